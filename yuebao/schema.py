"""The canonical tables of kpis.md section 2: field names, enum codes, keys.

One place for the contract's vocabulary; ingest, metrics and templates all use
these names so a field is called the same thing from the spec to the email.
"""

TICKET_TYPES = ("repair", "complaint", "inquiry", "suggestion", "praise", "other")
TICKET_CATEGORIES = (
    "plumbing_electric", "elevator", "fire", "heating", "security", "cleaning",
    "greening", "parking", "noise", "facilities", "other",
)
PRIORITIES = ("urgent", "normal")
TICKET_TIMES = ("created_at", "first_response_at", "resolved_at", "closed_at")

FIELDS = {
    "tickets": (
        "ticket_id", "community", "building", "unit", *TICKET_TIMES, "type", "category",
        "priority", "satisfaction", "reopened", "cancelled", "description",
        "reporter_name", "reporter_phone",
    ),
    "bills": (
        "bill_id", "community", "building", "unit", "fee_item", "period", "due_date",
        "amount_due",
    ),
    "payments": (
        "payment_id", "bill_id", "community", "building", "unit", "fee_item", "period",
        "paid_at", "amount",
    ),
}
REQUIRED = {
    "tickets": ("ticket_id", "community", "created_at"),
    "bills": ("bill_id", "community", "fee_item", "due_date", "amount_due"),
    "payments": ("payment_id", "paid_at", "amount"),
}
KEYS = {
    "tickets": ("community", "ticket_id"),
    "bills": ("bill_id",),
    "payments": ("payment_id",),
}
# A payment without bill_id names its bill by this key (kpis.md, payments table).
BILL_KEY = ("community", "building", "unit", "fee_item", "period")
TABLES = ("tickets", "bills", "payments")
# Text with few distinct values among many rows: kept dictionary-encoded (pandas
# categoricals with sorted categories) in the canonical tables, a small code per row
# instead of a string, so that years of history fit a worker and the metrics read
# codes instead of hashing text again.
DICTIONARY = {
    "tickets": ("community", "building", "type", "category", "priority"),
    "bills": ("community", "building", "unit", "fee_item", "period"),
    "payments": ("community",),
}
PORTFOLIO = "_portfolio"
