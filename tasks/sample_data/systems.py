"""The zh-generic style's systems: how each company's property system exports.

Each ``_System`` is one real-world export shape (headers, labels, encoding,
date, clock and money shapes, CSV or Excel); community ``i`` is exported by
``_SYSTEMS[i % 4]``. The ``_zh_*_fields`` functions turn one community's
tickets, bills and payments into that system's columns; ``exports`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yuebao.tasks.sample_data.common import _cum
from yuebao.tasks.sample_data.communities import _Community
from yuebao.tasks.sample_data.fees import _Bills, _payment_bill_ids, _Payments
from yuebao.tasks.sample_data.formatting import (
    _const,
    _day_table,
    _ids,
    _str,
    _styled_money,
    _styled_timestamps,
    _take,
)
from yuebao.tasks.sample_data.phrases import _FREE_PHRASES
from yuebao.tasks.sample_data.public import FEE_ITEMS
from yuebao.tasks.sample_data.tickets import _ticket_ids, _Tickets


@dataclass(frozen=True)
class _System:
    """How one company's property system writes its exports (the ``zh-generic`` style).

    Headers are alternatives the zh-generic profile lists, in the order the system
    prints its columns; a field a system does not export is simply not listed.
    """

    suffix: str  # ".csv" or ".xlsx" (one workbook per table, real date cells)
    encoding: str  # CSV only: "utf-8", "utf-8-sig" or "gbk"
    crlf: bool
    quote_all: bool  # every text cell in quotes; needed where money has thousands commas
    day_shape: str  # "iso" 2025-09-01, "slash" 2025/9/1, "zh" 2025年9月1日
    clock_shape: str  # "hms" 08:05:07, "h:mm:ss" 8:05:07, "zh" 8时5分7秒
    money_shape: str  # "plain" 1234.50, "grouped" 1,234.50, "yuan" ¥1,234.50
    tickets: tuple[tuple[str, str], ...]  # (field, header)
    bills: tuple[tuple[str, str], ...]
    payments: tuple[tuple[str, str], ...]
    type_labels: tuple[str, ...]  # by TYPES index
    category_labels: tuple[str, ...]  # by CATEGORIES index
    priority_labels: tuple[str, str]  # normal, urgent

    @property
    def excel(self) -> bool:
        return self.suffix == ".xlsx"

    def times(self, seconds: np.ndarray) -> pa.Array | list:
        """Naive local seconds as this system prints them; empty where negative."""
        if self.excel:
            values = seconds.astype("datetime64[s]").astype(object)
            values[seconds < 0] = None
            return values.tolist()
        return _styled_timestamps(seconds, self.day_shape, self.clock_shape)

    def dates(self, days: np.ndarray) -> pa.Array | list:
        if self.excel:
            return days.astype("datetime64[D]").astype(object).tolist()
        table, low = _day_table(days, self.day_shape)
        return pc.take(table, pa.array(days - low))

    def money(self, fen: np.ndarray) -> pa.Array | list:
        """Lossless either way: text built from integer fen, or a float whose shortest
        repr is the two-decimal amount (an Excel number cell)."""
        if self.excel:
            return (np.asarray(fen, dtype=np.int64) / 100).tolist()
        return _styled_money(fen, self.money_shape)

    def counts(self, values: np.ndarray) -> pa.Array | list:
        return values.tolist() if self.excel else _str(values)


_TYPE_LABELS = ("报修", "投诉", "咨询", "建议", "表扬", "其他")
_CATEGORY_LABELS = ("水电", "电梯", "消防", "供暖", "安防门禁", "清洁", "绿化", "停车", "噪音",
                    "公共设施", "其他")
_STATUS_LABELS = ("已取消", "已关闭", "已完成", "处理中", "待处理")
_RATING_LABELS = ("", "非常不满意", "不满意", "基本满意", "满意", "非常满意")
_CHANNELS = ("电话", "业主APP", "微信公众号", "前台", "巡检发现")
_CHANNEL_CUM = _cum([[.35, .25, .25, .10, .05]])[0]
_PAY_METHODS = ("微信支付", "支付宝", "银行代扣", "现金", "POS刷卡")
_PAY_METHOD_CUM = _cum([[.40, .25, .15, .10, .10]])[0]

# Community i is exported by system i % 4: 锦江小区 UTF-8 with BOM, 松花苑 GBK from an
# old Windows system, 浦江花园 Excel workbooks, 南山雅苑 UTF-8 with no category column.
_SYSTEMS = (
    _System(
        ".csv", "utf-8-sig", True, True, "slash", "h:mm:ss", "grouped",
        tickets=(("ticket_id", "工单编号"), ("community", "项目名称"), ("building", "楼栋"),
                 ("unit", "房号"), ("reporter_name", "报事人"), ("reporter_phone", "联系电话"),
                 ("channel", "报事渠道"), ("type", "工单类型"), ("category", "报事类别"),
                 ("description", "报事内容"), ("priority", "紧急程度"),
                 ("created_at", "报事时间"), ("first_response_at", "派单时间"),
                 ("resolved_at", "完成时间"), ("closed_at", "关闭时间"), ("status", "工单状态"),
                 ("satisfaction", "回访满意度"), ("reopened", "返工次数")),
        bills=(("bill_id", "账单编号"), ("community", "项目名称"), ("building", "楼栋"),
               ("unit", "房号"), ("fee_item", "收费项目"), ("period", "计费周期"),
               ("due_date", "应收日期"), ("amount_due", "应收金额")),
        payments=(("payment_id", "收款单号"), ("bill_id", "账单编号"), ("community", "项目名称"),
                  ("building", "楼栋"), ("unit", "房号"), ("fee_item", "收费项目"),
                  ("period", "计费周期"), ("paid_at", "收款时间"), ("amount", "实收金额"),
                  ("method", "收款方式")),
        type_labels=_TYPE_LABELS, category_labels=_CATEGORY_LABELS,
        priority_labels=("一般", "紧急")),
    _System(
        ".csv", "gbk", True, False, "zh", "zh", "plain",
        tickets=(("ticket_id", "单号"), ("community", "小区名称"), ("building", "楼号"),
                 ("unit", "房屋编号"), ("reporter_name", "联系人"), ("reporter_phone", "手机号"),
                 ("type", "报事类型"), ("category", "问题类别"), ("description", "问题描述"),
                 ("priority", "优先级"), ("created_at", "报修时间"),
                 ("first_response_at", "接单时间"), ("resolved_at", "处理完成时间"),
                 ("closed_at", "回访时间"), ("status", "状态"), ("satisfaction", "满意度"),
                 ("reopened", "重开次数")),
        bills=(("bill_id", "单据编号"), ("community", "小区名称"), ("building", "楼号"),
               ("unit", "房屋编号"), ("fee_item", "费项"), ("period", "所属期间"),
               ("due_date", "缴费截止日"), ("amount_due", "应缴金额")),
        payments=(("payment_id", "收据编号"), ("bill_id", "单据编号"), ("community", "小区名称"),
                  ("building", "楼号"), ("unit", "房屋编号"), ("fee_item", "费项"),
                  ("period", "所属期间"), ("paid_at", "缴费时间"), ("amount", "收款金额"),
                  ("method", "支付方式")),
        type_labels=("维修", *_TYPE_LABELS[1:]),
        category_labels=("水电维修", "电梯", "消防", "暖气", "安防", "保洁", "绿化", "车辆",
                         "噪声", "公共区域", "其他"),
        priority_labels=("普通", "加急")),
    _System(
        ".xlsx", "", False, False, "", "", "",
        tickets=(("ticket_id", "工单号"), ("community", "项目"), ("building", "楼栋名称"),
                 ("unit", "房间号"), ("reporter_name", "业主姓名"), ("reporter_phone", "电话"),
                 ("channel", "报事渠道"), ("type", "工单类型"), ("category", "报修类别"),
                 ("description", "内容描述"), ("priority", "紧急程度"),
                 ("created_at", "创建时间"), ("first_response_at", "响应时间"),
                 ("resolved_at", "完成时间"), ("closed_at", "关闭时间"), ("status", "工单状态"),
                 ("satisfaction", "评价"), ("reopened", "返工次数")),
        bills=(("bill_id", "应收编号"), ("community", "项目"), ("building", "楼栋"),
               ("unit", "房号"), ("fee_item", "收费项目"), ("period", "账期"),
               ("due_date", "应收日期"), ("amount_due", "应收金额")),
        payments=(("payment_id", "流水号"), ("bill_id", "应收编号"), ("community", "项目"),
                  ("building", "楼栋"), ("unit", "房号"), ("fee_item", "收费项目"),
                  ("period", "账期"), ("paid_at", "收款日期"), ("amount", "实收金额"),
                  ("method", "收款方式")),
        type_labels=_TYPE_LABELS,
        category_labels=("水电", "电梯", "消防", "供暖", "门禁", "环境卫生", "绿化", "停车", "噪音",
                         "公共设施", "其他"),
        priority_labels=("正常", "紧急")),
    _System(
        ".csv", "utf-8", False, True, "iso", "hms", "yuan",
        tickets=(("ticket_id", "工单编号"), ("community", "项目名称"), ("building", "楼栋"),
                 ("unit", "房号"), ("reporter_name", "报事人"), ("reporter_phone", "联系电话"),
                 ("type", "工单类型"), ("description", "报事内容"), ("priority", "紧急程度"),
                 ("created_at", "报事时间"), ("first_response_at", "派单时间"),
                 ("resolved_at", "完成时间"), ("closed_at", "回访时间"), ("status", "工单状态"),
                 ("satisfaction", "回访满意度"), ("reopened", "返工次数")),
        bills=(("bill_id", "账单编号"), ("community", "项目名称"), ("building", "楼栋"),
               ("unit", "房号"), ("fee_item", "收费项目"), ("period", "计费周期"),
               ("due_date", "应缴日期"), ("amount_due", "应收金额")),
        payments=(("payment_id", "收款单号"), ("bill_id", "账单编号"), ("community", "项目名称"),
                  ("building", "楼栋"), ("unit", "房号"), ("fee_item", "收费项目"),
                  ("period", "计费周期"), ("paid_at", "缴费时间"), ("amount", "实收金额")),
        type_labels=_TYPE_LABELS, category_labels=_CATEGORY_LABELS,
        priority_labels=("一般", "紧急")),
)


def _status(t: _Tickets) -> np.ndarray:
    """工单状态 on the export day, index into _STATUS_LABELS."""
    return np.select([t.cancelled, t.closed >= 0, t.resolved >= 0, t.response >= 0],
                     [0, 1, 2, 3], 4)


def _zh_ticket_fields(t: _Tickets, comm: _Community, code: str, system: _System,
                      rng: np.random.Generator) -> dict[str, pa.Array | list]:
    n = len(t.created)
    return {
        "ticket_id": _ticket_ids(t, code),
        "community": _const(comm.public.id, n),
        "building": _take(comm.building_names, comm.building_of[t.household], t.show_building),
        "unit": _take(comm.units, t.household, t.show_unit),
        "reporter_name": _take(comm.names, t.household),
        "reporter_phone": _take(comm.phones, t.household),
        "channel": _take(pa.array(_CHANNELS), np.searchsorted(_CHANNEL_CUM, rng.random(n))),
        "type": _take(pa.array(system.type_labels), t.type),
        "category": _take(pa.array(system.category_labels), t.category),
        "description": _take(_FREE_PHRASES, t.phrase),
        "priority": _take(pa.array(system.priority_labels), t.urgent.astype(np.int64)),
        "created_at": system.times(t.created),
        "first_response_at": system.times(t.response),
        "resolved_at": system.times(t.resolved),
        "closed_at": system.times(t.closed),
        "status": _take(pa.array(_STATUS_LABELS), _status(t)),
        "satisfaction": _take(pa.array(_RATING_LABELS), t.satisfaction, t.satisfaction > 0),
        "reopened": system.counts(t.reopened),
    }


def _zh_bill_fields(b: _Bills, comm: _Community, first_id: int,
                    system: _System) -> dict[str, pa.Array | list]:
    return {
        "bill_id": _ids("ZD", first_id + np.arange(len(b.due))),
        "community": _const(comm.public.id, len(b.due)),
        "building": _take(comm.building_names, comm.building_of[b.household]),
        "unit": _take(comm.units, b.household),
        "fee_item": _take(pa.array(FEE_ITEMS), b.item),
        "period": _take(pa.array(b.periods), b.period),
        "due_date": system.dates(b.due),
        "amount_due": system.money(b.amount),
    }


def _zh_payment_fields(p: _Payments, b: _Bills, comm: _Community, first_bill_id: int,
                       first_id: int, unknown: int | None, system: _System,
                       rng: np.random.Generator) -> dict[str, pa.Array | list]:
    """Payments with their bill's number, and the bill's house, fee and period besides."""
    household = b.household[p.bill]
    return {
        "payment_id": _ids("SK", first_id + np.arange(len(p.paid))),
        "bill_id": _payment_bill_ids(p, first_bill_id, unknown),
        "community": _const(comm.public.id, len(p.paid)),
        "building": _take(comm.building_names, comm.building_of[household]),
        "unit": _take(comm.units, household),
        "fee_item": _take(pa.array(FEE_ITEMS), b.item[p.bill]),
        "period": _take(pa.array(b.periods), b.period[p.bill]),
        "paid_at": system.times(p.paid),
        "amount": system.money(p.amount),
        "method": _take(pa.array(_PAY_METHODS),
                        np.searchsorted(_PAY_METHOD_CUM, rng.random(len(p.paid)))),
    }
