"""The ticket streams: every kind of ticket a community raises.

A stream is one source of tickets (a category, its mix of types, whether it
names a building and unit, its hours of the day) with the phrases a resident
uses for it. Seasonal and weather streams (heating, typhoons, leaves, ...) are
separate streams so that their rates can follow their own calendars
(``rates``); the descriptions are what the zh-generic keyword rules classify.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _Stream:
    """One source of tickets: a category, its mix of types, where and when it happens."""

    name: str
    category: str
    types: dict[str, float]
    urgent: float  # share of its repairs that are urgent
    building: float  # share with a building
    unit: float  # share of those with a unit too
    phrases: dict[str, tuple[str, ...]]  # by type, and "urgent" for urgent repairs
    hours: str = "day"


_STREAMS = (
    _Stream("plumbing", "plumbing_electric", {"repair": .90, "complaint": .05, "inquiry": .05},
            .06, 1.0, .97, {
                "repair": ("厨房水管漏水", "卫生间下水道堵塞", "水龙头漏水", "马桶堵塞",
                           "家中停电", "电表箱跳闸", "插座没电", "水压太低", "卫生间地漏返臭",
                           "阳台下水管漏水"),
                "urgent": ("水管爆裂", "楼上漏水淹到家里", "整个单元停电", "污水管道堵塞返水"),
                "complaint": ("维修师傅迟迟未上门", "漏水多次维修未修好", "停水未提前通知"),
                "inquiry": ("停水时间咨询", "电费充值咨询", "水表读数咨询")}),
    _Stream("elevator", "elevator", {"repair": .82, "complaint": .13, "inquiry": .05},
            .20, 1.0, 0.0, {
                "repair": ("电梯按键失灵", "电梯运行有异响", "电梯门关不上", "电梯停运",
                           "电梯显示屏不亮", "电梯平层不准"),
                "urgent": ("电梯困人", "电梯急停"),
                "complaint": ("电梯经常停运", "电梯维保不及时"),
                "inquiry": ("电梯年检时间咨询", "电梯维保时间咨询")}),
    _Stream("fire", "fire", {"repair": .60, "complaint": .30, "inquiry": .10},
            .20, .9, 0.0, {
                "repair": ("消防栓漏水", "烟感报警器误报", "灭火器过期", "安全出口指示灯不亮",
                           "消防门闭门器损坏"),
                "urgent": ("烟感报警需要查看", "楼道有烟味"),
                "complaint": ("消防通道被占用", "楼道堆放杂物"),
                "inquiry": ("消防检查时间咨询",)}),
    _Stream("security", "security",
            {"repair": .50, "complaint": .20, "inquiry": .22, "suggestion": .08},
            .04, .8, .1, {
                "repair": ("门禁卡失灵", "单元门禁损坏", "监控摄像头不亮", "可视对讲故障",
                           "人脸识别门禁失灵"),
                "urgent": ("单元门锁损坏无法进出",),
                "complaint": ("外来人员随意进出", "夜间巡逻不到位", "外卖快递随意进小区"),
                "inquiry": ("门禁卡办理咨询", "访客登记咨询"),
                "suggestion": ("建议增加监控探头", "建议加强夜间巡逻")}),
    _Stream("cleaning", "cleaning",
            {"repair": .08, "complaint": .42, "suggestion": .12, "praise": .15, "inquiry": .23},
            0.0, .6, .1, {
                "repair": ("垃圾桶破损", "垃圾房门损坏"),
                "complaint": ("楼道卫生差", "垃圾桶满溢未清运", "垃圾清运不及时", "楼道有小广告",
                              "宠物粪便无人清理"),
                "suggestion": ("建议增加垃圾分类投放点", "建议增加清扫频次"),
                "praise": ("保洁阿姨工作认真", "楼道打扫得很干净"),
                "inquiry": ("垃圾分类投放时间咨询", "大件垃圾清运咨询")}),
    _Stream("greening", "greening",
            {"repair": .40, "complaint": .25, "suggestion": .20, "praise": .10, "inquiry": .05},
            .02, .4, 0.0, {
                "repair": ("树枝遮挡窗户", "喷灌管漏水", "草坪枯黄需补种"),
                "urgent": ("树枝断裂悬空",),
                "complaint": ("绿化带杂草丛生", "树木修剪不及时", "绿化带被占用种菜"),
                "suggestion": ("建议补种绿植", "建议修剪树木"),
                "praise": ("小区绿化打理得很好",),
                "inquiry": ("绿化养护时间咨询",)}),
    _Stream("parking", "parking",
            {"repair": .12, "complaint": .40, "inquiry": .38, "suggestion": .10},
            .02, .2, 0.0, {
                "repair": ("道闸不抬杆", "车位地锁损坏"),
                "urgent": ("道闸故障车辆无法出入",),
                "complaint": ("车位被占用", "消防通道乱停车", "外来车辆乱停", "电动车充电位不足"),
                "inquiry": ("月租车位续费咨询", "访客车辆登记咨询", "车位租赁咨询"),
                "suggestion": ("建议增加充电桩", "建议规划临时停车位")}, "evening"),
    _Stream("noise", "noise", {"complaint": .92, "inquiry": .08}, 0.0, 1.0, .9, {
        "complaint": ("楼上装修噪音", "广场舞音乐扰民", "夜间施工噪音", "宠物狗叫扰民",
                      "楼上夜间噪音", "底商音响扰民"),
        "inquiry": ("装修施工时间咨询",)}, "evening"),
    _Stream("facilities", "facilities",
            {"repair": .78, "complaint": .10, "suggestion": .07, "inquiry": .05},
            .05, .6, 0.0, {
                "repair": ("楼道灯不亮", "单元门闭门器损坏", "路灯不亮", "健身器材损坏", "地砖松动",
                           "信报箱损坏", "井盖松动", "楼道窗户玻璃破损", "儿童游乐设施损坏"),
                "urgent": ("外墙瓷砖脱落", "井盖缺失"),
                "complaint": ("公共设施维修不及时", "路灯长期不亮"),
                "suggestion": ("建议增加休闲座椅", "建议加装无障碍扶手"),
                "inquiry": ("公共设施维修进度咨询",)}),
    _Stream("other", "other",
            {"inquiry": .66, "other": .12, "praise": .11, "suggestion": .07, "complaint": .04},
            0.0, 1.0, .9, {
                "inquiry": ("物业费缴费咨询", "装修申请咨询", "快递代收咨询", "出具证明咨询",
                            "房屋出租登记咨询", "发票开具咨询"),
                "other": ("物品遗失求助", "钥匙遗落求助", "寻找走失宠物", "邻里纠纷求助"),
                "praise": ("物业管家服务热情", "感谢维修师傅及时上门", "感谢保安帮忙搬运"),
                "suggestion": ("建议组织社区活动", "建议开通线上缴费"),
                "complaint": ("物业服务态度差", "物业费收费标准有疑问")}),
    _Stream("heating", "heating", {"repair": .70, "complaint": .20, "inquiry": .10},
            .06, 1.0, .98, {
                "repair": ("暖气不热", "暖气片漏水", "暖气阀门漏水", "暖气管道有异响",
                           "暖气片需要放气", "地暖不热"),
                "urgent": ("暖气管爆裂漏水", "暖气跑水"),
                "complaint": ("室温不达标", "暖气不热多次报修未解决"),
                "inquiry": ("供暖开始时间咨询", "供暖费缴费咨询", "暖气试水时间咨询")}),
    _Stream("frozen", "plumbing_electric", {"repair": .90, "complaint": .10}, .20, 1.0, .8, {
        "repair": ("水管冻裂", "水表冻裂", "下水管冻堵", "楼道水管冻住"),
        "urgent": ("水管冻裂跑水",),
        "complaint": ("水管冻裂维修不及时",)}),
    _Stream("snow", "cleaning", {"complaint": .70, "repair": .10, "suggestion": .20},
            .05, .4, 0.0, {
                "complaint": ("积雪未及时清理", "路面结冰湿滑", "单元门口结冰"),
                "repair": ("屋檐冰溜子需清除",),
                "urgent": ("屋檐冰溜子有坠落风险",),
                "suggestion": ("建议及时撒融雪剂",)}),
    _Stream("summer_power", "plumbing_electric",
            {"repair": .85, "complaint": .10, "inquiry": .05}, .05, 1.0, .95, {
                "repair": ("家中频繁跳闸", "空调插座没电", "空调排水管漏水", "二次供水水压低",
                           "电表箱过热跳闸"),
                "urgent": ("高温停电", "配电箱冒烟"),
                "complaint": ("夏季频繁停电",),
                "inquiry": ("停电原因咨询",)}),
    _Stream("summer_facilities", "facilities", {"repair": .88, "complaint": .12},
            .08, .5, 0.0, {
                "repair": ("大堂空调不制冷", "会所空调漏水", "水泵房水泵故障", "地下车库排风扇不转",
                           "公共区域空调不制冷"),
                "urgent": ("水泵故障高层停水",),
                "complaint": ("大堂空调温度太高",)}),
    _Stream("typhoon_facilities", "facilities", {"repair": .90, "complaint": .10},
            .45, .6, .2, {
                "repair": ("台风刮坏楼道窗户", "雨棚被吹落", "围挡被吹倒", "单元门被风吹坏",
                           "空调外机支架松动", "广告牌松动"),
                "urgent": ("地下车库进水", "玻璃被吹碎有坠落风险", "外墙装饰物松动"),
                "complaint": ("台风后清理不及时",)}, "flat"),
    _Stream("typhoon_greening", "greening", {"repair": .90, "complaint": .10},
            .40, .3, 0.0, {
                "repair": ("树枝被吹断", "绿化带树木倾斜", "树木倒伏"),
                "urgent": ("大树倒伏挡住道路", "断枝压到车辆"),
                "complaint": ("台风后倒伏树木未清理",)}, "flat"),
    _Stream("rain_facilities", "facilities", {"repair": .88, "complaint": .12},
            .15, .9, .6, {
                "repair": ("外墙渗水", "屋顶漏水", "窗台渗水", "地下室渗水", "雨水井堵塞积水"),
                "urgent": ("地下车库积水", "电梯井进水"),
                "complaint": ("雨后小区积水严重",)}, "flat"),
    _Stream("rain_plumbing", "plumbing_electric", {"repair": .90, "complaint": .10},
            .15, 1.0, .9, {
                "repair": ("潮湿漏电跳闸", "阳台排水管堵塞", "雨水管倒灌", "地漏返水"),
                "urgent": ("地下室进水需要抽水",),
                "complaint": ("排水不畅多次报修",)}, "flat"),
    _Stream("leaves_cleaning", "cleaning", {"complaint": .80, "suggestion": .20},
            0.0, .4, 0.0, {
                "complaint": ("落叶清扫不及时", "落叶堵塞雨水口", "楼前落叶堆积"),
                "suggestion": ("建议增加落叶清扫频次",)}),
    _Stream("leaves_greening", "greening", {"repair": .50, "complaint": .30, "suggestion": .20},
            0.0, .4, 0.0, {
                "repair": ("树枝遮挡路灯需修剪", "枯枝需清理"),
                "complaint": ("树叶落满车顶",),
                "suggestion": ("建议秋季修剪树木",)}),
    _Stream("holiday_noise", "noise", {"complaint": .93, "inquiry": .07}, 0.0, 1.0, .9, {
        "complaint": ("燃放烟花爆竹扰民", "节日聚会深夜喧哗", "楼下深夜喧哗", "节日期间装修噪音"),
        "inquiry": ("烟花燃放规定咨询",)}, "evening"),
    _Stream("holiday_parking", "parking", {"complaint": .85, "inquiry": .15}, 0.0, .3, 0.0, {
        "complaint": ("节日访客车辆多停车难", "车位被访客车辆占用", "访客车辆堵塞通道"),
        "inquiry": ("访客停车收费咨询",)}, "evening"),
    _Stream("fee_inquiry", "other", {"inquiry": .85, "complaint": .15}, 0.0, 1.0, 1.0, {
        "inquiry": ("物业费收费标准咨询", "缴费方式咨询", "电子发票开具咨询", "预缴优惠咨询"),
        "complaint": ("收费标准有疑问", "催缴通知不清楚")}),
    _Stream("hotspot_plumbing", "plumbing_electric", {"repair": .85, "complaint": .15},
            .10, 1.0, .7, {
                "repair": ("楼道水管反复漏水", "水管又漏水了", "单元总水管渗漏", "楼道配电箱跳闸",
                           "楼内频繁停电"),
                "urgent": ("楼道水管爆裂",),
                "complaint": ("同一处漏水多次维修未解决",)}),
    _Stream("hotspot_elevator", "elevator", {"repair": .85, "complaint": .15}, .20, 1.0, 0.0, {
        "repair": ("电梯又停运了", "电梯频繁故障", "电梯门反复卡住"),
        "urgent": ("电梯困人",),
        "complaint": ("电梯一个月坏了好几次",)}),
    _Stream("hotspot_facilities", "facilities", {"repair": .85, "complaint": .15},
            .10, 1.0, .5, {
                "repair": ("楼顶防水层反复渗漏", "单元门反复损坏", "楼道灯反复不亮"),
                "urgent": ("外墙瓷砖再次脱落",),
                "complaint": ("同一问题多次报修未解决",)}),
)
_STREAM_INDEX = {stream.name: i for i, stream in enumerate(_STREAMS)}
