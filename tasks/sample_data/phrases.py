"""The ticket descriptions: the streams' phrases as arrays, and their free-text forms.

Tickets carry an index into ``_PHRASES`` rather than text, so descriptions cost
one ``take`` per table. ``_FREE_TEXT`` rewrites some phrases for the zh-generic
system that exports no category column: there the profile's keyword rules must
find the category from the description alone (the tests check they do).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from yuebao.tasks.sample_data.public import TYPES
from yuebao.tasks.sample_data.streams import _STREAMS


def _phrase_table() -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """All descriptions in one array; start and count per (stream, type slot).

    Slots are the six types, then 6 for urgent repairs (falling back to repairs)."""
    texts: list[str] = []
    start = np.zeros((len(_STREAMS), len(TYPES) + 1), dtype=np.int64)
    count = np.zeros_like(start)
    for i, stream in enumerate(_STREAMS):
        for slot, key in enumerate((*TYPES, "urgent")):
            phrases = stream.phrases.get(key) or stream.phrases.get("repair", ())
            start[i, slot], count[i, slot] = len(texts), len(phrases)
            texts.extend(phrases)
    return pa.array(texts), start, count


_PHRASES, _PHRASE_START, _PHRASE_COUNT = _phrase_table()


# 报事内容 as a service desk types it. A system with no category column leaves the
# category to the profile's keyword rules, so every description here names its kind
# of trouble with a word of those rules, and the rules find the same category the
# generator meant; descriptions of the "other" category name none. Phrases that
# already do are kept as they are.
_FREE_TEXT = {
    # plumbing_electric
    "卫生间地漏返臭": "卫生间下水返臭",
    "地漏返水": "地漏返水，下水不畅",
    "排水不畅多次报修": "下水不畅多次报修",
    "地下室进水需要抽水": "地下室进水，下水不畅需要抽水",
    "电费充值咨询": "电表充值后仍停电咨询",
    "水表读数咨询": "入户水管水表读数咨询",
    "维修师傅迟迟未上门": "漏水报修后师傅迟迟未上门",
    "水表冻裂": "水表冻裂漏水",
    "配电箱冒烟": "配电箱冒烟跳闸",
    # fire
    "安全出口指示灯不亮": "消防安全出口指示灯不亮",
    "楼道堆放杂物": "楼道堆放杂物占用消防通道",
    "楼道有烟味": "楼道有烟味，请消防检查",
    # security
    "访客登记咨询": "访客门禁登记咨询",
    "建议加强夜间巡逻": "建议加强夜间巡逻和监控",
    "夜间巡逻不到位": "夜间巡逻和监控不到位",
    "外卖快递随意进小区": "外卖快递随意进出门禁",
    "单元门锁损坏无法进出": "单元门禁锁损坏无法进出",
    "外来人员随意进出": "外来人员随意进出门禁",
    # parking
    "消防通道乱停车": "楼前通道乱停车",
    "外来车辆乱停": "外来车辆乱停车",
    "访客车辆登记咨询": "访客停车登记咨询",
    "访客车辆堵塞通道": "访客车辆占道停车",
    "建议增加充电桩": "建议增加充电车位",
    "电动车充电位不足": "电动车充电车位不足",
    # noise
    "楼下深夜喧哗": "楼下深夜喧哗扰民",
    "节日聚会深夜喧哗": "节日聚会深夜吵闹",
    "烟花燃放规定咨询": "燃放烟花噪音规定咨询",
    "装修施工时间咨询": "装修噪音时段咨询",
    # cleaning
    "楼前落叶堆积": "楼前落叶堆积无人清扫",
    "宠物粪便无人清理": "宠物粪便无人清理，影响环境卫生",
    "楼道打扫得很干净": "保洁打扫得很干净",
    "积雪未及时清理": "积雪未及时清扫",
    "单元门口结冰": "单元门口结冰未清扫",
    "建议及时撒融雪剂": "建议保洁及时撒融雪剂",
    "路面结冰湿滑": "路面结冰湿滑，需要清扫",
    "落叶堵塞雨水口": "雨水口落叶未清扫",
    "楼道有小广告": "楼道有小广告影响卫生",
    "屋檐冰溜子需清除": "屋檐冰溜子需保洁清除",
    "屋檐冰溜子有坠落风险": "屋檐冰溜子有坠落风险，请保洁清除",
    # greening
    "枯枝需清理": "树木枯枝需清理",
    "断枝压到车辆": "树木断枝压到车辆",
    "喷灌管漏水": "绿化喷灌管破损",
    "建议补种绿植": "建议补种绿化植物",
    # heating
    "室温不达标": "供暖室温不达标",
    # facilities
    "楼道灯不亮": "楼道照明设施不亮",
    "楼道灯反复不亮": "楼道照明设施反复损坏",
    "路灯不亮": "路灯损坏不亮",
    "单元门闭门器损坏": "单元门闭门器等设施损坏",
    "单元门被风吹坏": "单元门窗被风吹坏",
    "单元门反复损坏": "单元门窗反复损坏",
    "地砖松动": "路面地砖松动",
    "信报箱损坏": "信报箱设施损坏",
    "楼道窗户玻璃破损": "楼道门窗玻璃破损",
    "健身器材损坏": "健身设施损坏",
    "建议增加休闲座椅": "建议增加休闲座椅等设施",
    "建议加装无障碍扶手": "建议加装无障碍扶手设施",
    "同一问题多次报修未解决": "同一公共设施问题多次报修未解决",
    "大堂空调不制冷": "大堂空调设施不制冷",
    "公共区域空调不制冷": "公共区域空调设施不制冷",
    "大堂空调温度太高": "大堂空调设施温度太高",
    "会所空调漏水": "会所空调设施滴水",
    "水泵房水泵故障": "水泵房设施故障",
    "水泵故障高层停水": "水泵设施故障，高层供水中断",
    "地下车库排风扇不转": "地下车库排风设施不转",
    "台风刮坏楼道窗户": "台风刮坏楼道门窗",
    "雨棚被吹落": "单元雨棚设施被吹落",
    "围挡被吹倒": "围挡设施被吹倒",
    "广告牌松动": "外墙广告牌松动",
    "空调外机支架松动": "外墙空调外机支架松动",
    "玻璃被吹碎有坠落风险": "门窗玻璃被吹碎有坠落风险",
    "台风后清理不及时": "台风后路面清理不及时",
    "屋顶漏水": "屋顶及外墙雨天渗水",
    "窗台渗水": "门窗窗台渗水",
    "地下室渗水": "地下室外墙渗水",
    "雨水井堵塞积水": "雨水井不通畅，路面积水",
    "雨后小区积水严重": "雨后小区路面积水严重",
    "地下车库积水": "地下车库路面积水",
    "地下车库进水": "地下车库进水，路面积水",
    "电梯井进水": "设备井进水，公共设施受损",
    "楼顶防水层反复渗漏": "楼顶外墙防水层反复渗漏",
}
_FREE_PHRASES = pa.array([_FREE_TEXT.get(text, text) for text in _PHRASES.to_pylist()])
