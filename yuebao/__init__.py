"""yuebao (月报): monthly review drafts for property-management companies.

Importing the package first makes Prefect run offline (see ``prefect_env``), so
every entry point — the CLI, the flows, the deployments, the tests — gets it.
"""

from yuebao import prefect_env

prefect_env.configure()
