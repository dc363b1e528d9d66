"""PERSON detection for :mod:`shoplens.privacy.detect`: names from context cues and name lists.

Support messages name people in a few recurring shapes, and the rules follow them:

- **Chinese**: a label (收件人, 收货人, 签收人, 户名, 开户名, 持卡人, 账户名, 支付宝实名,
  实名认证, 真实姓名, 认证姓名, 姓名...) optionally followed by 是/为/写的/改成 and a colon,
  then a name; self-introductions (我叫, 我是, 本人); relation words (我老公, 我同事...);
  hand-over verbs (寄给, 转交, 通知...); a surname with a title (王先生, 陈经理, 李姐);
  a name right before contact details or 名下; sign-offs (——陆明, 谢谢！肖晴). A name is a
  surname from the 百家姓 list (compound surnames such as 欧阳 or 司马 included) and one or
  two given characters; after a label with a colon any 2-4 Chinese characters count
  (阿依古丽, 扎西).
- **English**: labels ("Name:", "Contact:", "Account holder", "Cardholder name", "Recipient",
  "under the name", "name is"), titles (Mr, Ms, Dr, Sir, Aunty), greetings at the start of a
  line ("Hi Sarah,", "Morning Josh"), sign-offs and signature lines ("Thanks,\\nTom",
  "- Maria G."), self-introductions ("This is", "X here", "X speaking"), relation words
  ("my wife Ioana") and verbs ("spoke to", "signed for by", "X from your team"). Name tokens
  may carry diacritics, apostrophes, hyphens and particles (Siobhán Ní Bhriain, O'Brien,
  Anna-Lena, van der Berg); where the context is weak, the first token must be in the given-name
  list (US census 1990, public domain, see ``name_lists/SOURCE.md``).

Look-alikes stay unflagged because a name needs a cue: brands (李宁, 康师傅, Ralph Lauren),
places (马鞍山, Charlotte) and staff titles (店长, Store Manager) carry none, and
capitalised words that are never names (Customer, Team, Support...) are dropped.

Why hand-written: no offline library covers Chinese support-message names (spaCy and
Presidio need downloaded models and have no zh recognisers), and a trained span model
would need labelled messages that do not exist here.

>>> text = "收件人：欧阳娜娜，电话13812345678"
>>> [text[s:e] for s, e, _, _ in find_persons(text, True)]
['欧阳娜娜']
>>> text = "Thanks,\\nSiobhán Ní Bhriain"
>>> [text[s:e] for s, e, _, _ in find_persons(text, False)]
['Siobhán Ní Bhriain']
>>> find_persons("买了李宁的运动鞋", True)
[]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_DATA = Path(__file__).with_name("name_lists")

# ---------------------------------------------------------------- name lists (read once, immutable)


def _lines(name: str) -> list[str]:
    return [x.strip() for x in (_DATA / name).read_text(encoding="utf-8").splitlines()
            if x.strip() and not x.startswith("#")]


def _zh_surnames() -> tuple[str, tuple[str, ...]]:
    single, compound = "", []
    for line in _lines("zh_surnames.txt"):
        kind, _, body = line.partition(":")
        if kind == "single":
            single += body.strip()
        elif kind == "compound":
            compound += body.split()
    return "".join(dict.fromkeys(single)), tuple(dict.fromkeys(compound))


ZH_SINGLE_SURNAMES, ZH_COMPOUND_SURNAMES = _zh_surnames()
# Frequent given names and nicknames of the last decades, and non-English names, that the
# 1990 census list lacks (it only holds names already common in the US then).
_EXTRA_FIRST = (
    "Aiden Jayden Liam Noah Mason Logan Ethan Oliver Harry Alfie Freddie Archie Theo Finley Callum Rhys Owen "
    "Declan Niall Oisin Cian Eoin Ciaran Kieran Ruairi Tadhg Seamus Hamish Fraser Euan Ewan Angus Dougie Gaz Baz "
    "Kev Mikey Ollie Olly Josh Jess Becca Becky Jo Lou Mel Kat Nat Tash Tasha Ellie Evie Freya Isla Poppy Niamh "
    "Aoife Siobhan Saoirse Orla Ciara Roisin Sinead Imogen Harriet Beatrix Tamsin Cerys Seren Carys Zoe Chloe "
    "Mia Ava Amelia Aaliyah Amara Ama Kwame Kofi Kojo Akosua Abena Yaw Femi Tunde Ngozi Chidi Chinedu Oluwaseun "
    "Adebayo Abiodun Bola Bongani Thandiwe Sipho Themba Nkechi Emeka Ifeoma Amina Aisha Fatima Zainab Zahra Nadia "
    "Noura Layla Leila Yasmin Yasmine Hamza Bilal Omar Ahmed Mohammed Muhammad Mohamed Ibrahim Abdullahi Faisal "
    "Tanvir Imran Arjun Priya Priyanka Anjali Deepak Vikram Ravi Raj Rohan Nikhil Sandeep Sunil Anil Rahul "
    "Kavya Aditi Sanjay Ananya Wei Li Ming Jie Jun Hui Yan Lei Xin Yuki Kenji Hiroshi Haruto Sakura Yui Hye-jin "
    "Ji-woo Sun-hee Min-jun Seo-yeon Thi Lan Linh Minh Anh Duc Huong Tuan Mateo Santiago Joaquín Joaquin "
    "Alejandra Esperanza Catalina Ximena Camila Valentina Diego Tiago Joao Gonçalo Ricardo Eduardo Florin Bogdan "
    "Dmitri Svetlana Olga Pavel Tomasz Bartek Jürgen Lars Ingrid Greta Elif Emre Giorgos Ioana Clément Émilie "
    "Leilani Keisha Jamal Tyrone Dwayne Shauna Aunty".split()
)
EN_FIRST_NAMES = frozenset(x.lower() for x in _lines("en_first_names.txt")) | frozenset(x.lower() for x in _EXTRA_FIRST)
EN_SURNAMES = frozenset(x.lower() for x in _lines("en_surnames.txt"))

# ---------------------------------------------------------------- Chinese
_HAN = "\u4e00-\u9fff"
_ZH_SURNAME = "(?:" + "|".join(ZH_COMPOUND_SURNAMES) + "|[" + ZH_SINGLE_SURNAMES + "])"
_ZH_SURNAME_AT = re.compile(_ZH_SURNAME)
_ZH_LABELS = (
    "收件人|收货人|签收人|代收人|寄件人|联系人|收款人|付款人|汇款人|转账人|代付人|提货人|领取人|取件人|收件方|收件|"
    "户名|开户名称|开户名|开户人|账户名称|账户名|账号名称|账号名|账户持有人|账号持有人|账户实名|持卡人|户主|"
    "支付宝实名|微信实名|实名认证|实名核验|实名信息|实名|真实姓名|认证姓名|认证人|认证信息|身份核验|核验姓名|证件姓名|"
    "客户姓名|姓名|名字|署名|本人"
)
_ZH_WEAK_LABELS = "客户|买家|抬头"  # these need a colon or 是/为 before the name
_ZH_CONNECT = (
    r"(?:姓名|名字|名称)?(?:信息)?(?:显示|一栏|那栏|栏)?"
    r"(?:是|为|叫|写的是|写的|写成了|写成|写了|写|填的是|填的|填了|填|显示的是|显示为|显示|改成|改为|变成了|变成|换成|应该是)?"
)
_ZH_RELATION = (
    r"(?:我们?(?:公司|部门|单位|家)的|(?:我们?(?:公司|部门|单位|家)?的|我的?|帮我|给我|他的?|她的?)?(?:老婆|老公|妻子|丈夫|爱人|妈妈|妈|爸爸|爸|母亲|父亲|哥哥|哥|姐姐|姐|弟弟|弟|妹妹|妹|表妹|表姐|表哥|表弟|"
    r"儿子|女儿|闺蜜|朋友|同事|同学|室友|舍友|邻居|领导|老板|爷爷|奶奶|外婆|外公|姥姥|姥爷|家人|亲戚|财务|前台|助理))"
)
_ZH_MY_NAME = re.compile(rf"我叫\s*(?P<run>[{_HAN}]{{2,4}})(?=[，,。！!？?\s]|$)")
_ZH_LABEL_CUE = re.compile(
    rf"(?:{_ZH_LABELS})(?P<c1>{_ZH_CONNECT})\s*(?P<colon>[:：])?\s*(?:{_ZH_RELATION})?\s*(?=(?P<run>[{_HAN}]{{2,5}}))"
)
_ZH_WEAK_CUE = re.compile(rf"(?:{_ZH_WEAK_LABELS})(?:\s*[:：]|是|为|写的是|写的|写成|写|填)\s*(?=(?P<run>[{_HAN}]{{2,5}}))")
# self-introduction, hand-over and relation cues: the name must start with a surname. After the
# "strict" cues the name must end at punctuation, a space or the end of the text (谢谢辛勤的..., 联系方式);
# after the others it may run into a verb (转告樊振东来取件, 我哥魏强用我的账号).
_ZH_STRICT_CUE = re.compile(
    rf"(?:我是|谢谢|感谢|请联系|联系|应该是|其实是|改成|改为|填的是|客户)\s*(?=(?P<run>[{_HAN}]{{2,5}}))"
)
_ZH_POSSESSIVE = r"(?:我们?(?:公司|部门|单位|家)?的|我的|我|帮我|给我|替我|是我)"
_ZH_LOOSE_CUE = re.compile(
    rf"(?:我叫|我姓\S{{0,4}}?叫|叫做|(?:(?:寄|送|交|转交|开|写|发|卖)给|转交|转告|给了|通知|麻烦让)(?:{_ZH_RELATION})?|"
    rf"{_ZH_POSSESSIVE}{_ZH_RELATION})\s*(?=(?P<run>[{_HAN}]{{2,5}}))"
)
_ZH_TITLE = re.compile(
    rf"(?<![谢辛感基多小老大值售])(?P<name>{_ZH_SURNAME}(?:(?![谢苦])[{_HAN}])?(?:先生|女士|小姐|师傅|老师|经理|主任|医生|律师|阿姨|叔叔))"
)
_ZH_NICK = re.compile(
    rf"(?:你好|您好|谢谢|感谢|麻烦|找|联系)[，,\s]*(?P<name>[小老][{ZH_SINGLE_SURNAMES}]|[{ZH_SINGLE_SURNAMES}][姐哥])"
    r"(?=[，,。！!？?\s]|$|帮|的)"
)
_ZH_BEFORE_CONTACT = re.compile(
    rf"(?:^|(?<=[\s，,；;：:。！!]))(?P<name>{_ZH_SURNAME}[{_HAN}]{{1,2}}?)"
    r"(?=[，,（(\s]\s*(?:电话|手机|座机|联系|\+?86|1[3-9]\d{9}|0\d{2,3}[-\s]?\d{7,8}|\[))"
)
_ZH_BEFORE_WORD = re.compile(rf"(?:^|(?<=[^{_HAN}])|(?<=查一下)|(?<=查查)|(?<=帮我查))(?P<name>{_ZH_SURNAME}[{_HAN}]{{1,2}}?)(?=名下|这个名字)")
_ZH_START_GREETING = re.compile(rf"^\s*(?P<name>{_ZH_SURNAME}[{_HAN}]{{1,2}}?)(?=你好|您好|[，,](?:请|麻烦|您|你好|你的|您的))")
_ZH_SIGNOFF = re.compile(
    rf"(?:^|[\n。！!])\s*(?:——|—|--|-)\s*(?P<name>{_ZH_SURNAME}[{_HAN}]{{1,2}})\s*$"
    rf"|(?:谢谢|感谢|此致|敬礼|祝好|辛苦了)[！!，,。\s]*(?P<name2>{_ZH_SURNAME}[{_HAN}]{{1,2}})\s*$"
)
# what may follow a name found after a strict cue (punctuation, space, 是/的), and words that may follow any name
_ZH_AFTER_OK = set("是的，,。.！!？?、；;：:\n \t（()）0123456789")
_ZH_NOT_GIVEN_END = set("粉迷党人家们者方面里边")
_ZH_AFTER_WORDS = ("名下", "电话", "手机", "先生", "女士", "小姐", "签收", "本人")
# characters that never start a given name right after the surname, and that end a candidate
_ZH_NOT_FIRST = set("的了是在要想不很也都就说个这那有没会能请和与跟给吗呢吧啊么")
_ZH_TAIL = set("的了是在要想买不很也都就说个收到货发快这那有没会能请和与跟给退换帮吗呢吧啊用改签接来去取打回写填看问找寄送拿让被把对错")
# surname characters that are also very common words: a name with them needs a colon, a 3-character name or a boundary
_ZH_COMMON_SURNAMES = set("于和有时向都从能别空相查后公国家通万全东文方平明成满年爱言法福红双山水云花谷车包单过经干解应宣富印宿怀充容步广利越隆益那居终须养关游权盖元计强危支管宗封井段班秋宫暴甘厉祖武符景束龙幸司白从索咸能苍党劳扶堵边燕庄连习艾鱼古易慎衡都满禄师冷简曾沙丰商阳")
# two- and three-character words that begin with a surname character but are not names
_NOT_ZH_NAMES = frozenset(
    "方式 方便 方法 方面 高兴 明天 明白 明显 时间 时候 马上 白色 黄色 金额 和我 江湖 于是 安全 安排 常见 平台 平时 平常 程序 "
    "关于 关注 关闭 向您 申请 文件 文字 商品 商家 商城 史上 成功 成本 成为 应该 全部 全新 包装 包裹 包邮 邮箱 邮件 客服 手机 "
    "电话 快递 地址 公司 公斤 公里 周末 周一 周二 周三 周四 周五 周六 周日 商店 全系 钱包 钱款 顾客 毛衣 毛巾 石头 路上 单号 "
    "单子 姓名 名字 本人 刘海 余额 任何 何时 林间 罗马 宋体 许多 韩国 董事 田园 丁香 满意 满足 东西 国内 国外 家里 "
    "通知 通过 万一 有点 有些 有人 后来 后面 红色 相关 相同 相信 查询 查看 能否 能不 别人 空调 空间 终于 步骤 广告 越来 简单 "
    "简直 曾经 沙发 师傅 宿舍 怀疑 充电 容易 习惯 居然 连续 从来 幸好 司机 厉害 符合 印象 危险 强烈 管理 经常 干净 解决 宣传 "
    "富有 年前 爱心 言语 法律 福利 双十 水果 云南 山东 花钱 谷歌 车子 计划 元旦 段时 班级 秋天 宫廷 祖国 景区 龙虾 燕窝 "
    "庄园 艾草 鱼肉 古代 易碎 冷静 丰富 关系 游戏 权限 盖子 支付 支持 宗旨 封面 井盖 边上 连接 劳动 堵车 扶手 咸菜 索赔 党员 "
    "苍蝇 能力 能够 阳台 商量 易拉 万元 那个 那边 那栏 那里 那天 那些 都是 都有 于我 于你 向我 全都 国庆 文明 明年 成都 师兄 "
    "师姐 白天 白菜 金色 黄金 石榴 高端 高档 高速 毛病 钟点 严重 严格 雷同 龙井 凤凰 温度 温馨 常规 常年 康复 施工 "
    "牛奶 牛肉 樊城 葛根 安装 齐全 易用 乔迁 伍佰 庞大 颜值 庄严 章程 鲁菜 岳父 岳母 殷勤 申通 欧洲 "
    "耿耿 关门 兰州 焦虑 左边 右边 柳州 甘肃 祝福 宁愿 宁波 尚未 符号 舒服 舒适 纪念 梅花 童装 凌晨 毕业 季度 "
    "裴家 霍乱 涂料 成品 苗条 谷物 盛情 曲线 翁婿 冉冉 骆驼 蓝色 路线 游泳 辛苦 管家 柴火 蒙牛 鲍鱼 华为 祁门 "
    "房间 房东 屈臣 饶了 解释 牟利 艾滋 尤其 时光机 农夫 农村 卓越性 古装 吉利 缪斯 简约 车厘 项目 连衣 芦荟 麦当 "
    "褚橙 娄底 戚风 岑溪市 景色 党参 宫保 费用 卜卦 冷藏 席梦 卫生 米饭 柏林 宗教 瞿塘 桂林 全面 应用 臧否 "
    "闵行 苟且 边框 师范 仇恨 栾川 隋唐 商务 刁难 沙拉 荣誉 巫山 桑蚕 甄别 丛林 仲裁 敖包 巩固 "
    "明星 佘山 池塘 查到 麻烦 苑区 迟到 洪水 萧山 阎王 冼村 老干妈 康师傅 王老吉 张小泉 周大福 马应龙 周黑鸭 王守义 "
    "陈克明 李锦记 雷允上 金龙鱼 江小白 钟薛高 同仁堂 白玉兰 孔雀蓝 石榴红 黄山 马鞍山 张家界 石家庄 周庄 武夷山 白云山 林芝 "
    "金华 安庆 常州 高邮 陈皮 谢谢 有你 有你们 辛勤 东北 支票 明信片 班主任 那个 那位 蒙牛 华粉 米粉 果粉".split()
)
_ZH_PERSON_BRANDS = re.compile("蒙牛|那个|那位|班主任|康师傅|王老吉|张小泉|周大福|马应龙|周黑鸭|王守义|陈克明|李锦记|雷允上|李宁|老干妈|钟薛高")


def _zh_name_length(run: str, *, colon: bool, need_surname: bool) -> int:
    """Length of the name at the start of ``run`` (a run of Chinese characters), 0 if none."""
    m = _ZH_SURNAME_AT.match(run)
    if m:
        s = m.end()
        given = run[s:s + 2]
        if not given or given[0] in _ZH_NOT_FIRST or given == "一下":
            given = ""
        while given and (given[-1] in _ZH_TAIL and len(given) > 1):
            given = given[:-1]
        if given and given[-1] in _ZH_TAIL and s + len(given) < 2:
            given = ""
        name = run[:s + len(given)]
        if given and len(name) >= 2 and name not in _NOT_ZH_NAMES and name[:2] not in _NOT_ZH_NAMES \
                and name[:3] not in _NOT_ZH_NAMES:
            if run[0] in _ZH_COMMON_SURNAMES and s == 1 and len(name) == 2 and not colon and len(run) > 2 \
                    and run[2] not in _ZH_TAIL:
                return 0  # e.g. 时间表, 方便面: a common character followed by more text
            return len(name)
    if colon and not need_surname and 2 <= len(run) <= 4 and not any(c in _ZH_TAIL for c in run) \
            and run not in _NOT_ZH_NAMES:
        return len(run)
    return 0


_ZH_TITLE_WORDS = ("先生", "女士", "小姐", "师傅", "老师", "经理", "主任", "医生", "律师", "阿姨", "叔叔")
_ZH_SIGNOFF_WORDS = ("—", "-", "谢谢", "感谢", "此致", "敬礼", "祝好", "辛苦了")
_DIGIT = re.compile(r"\d")


def _zh_persons(text: str) -> list[tuple[int, int, float, str]]:
    out: list[tuple[int, int, float, str]] = []
    has_digit = _DIGIT.search(text) is not None
    for m in _ZH_LABEL_CUE.finditer(text):
        start = m.start("run")
        colon = bool(m.group("colon")) or m.group("c1") in ("是", "为", "叫")
        n = _zh_name_length(m.group("run"), colon=colon, need_surname=False)
        end = start + n
        if n and not colon and text[start] in _ZH_COMMON_SURNAMES and not text.startswith(ZH_COMPOUND_SURNAMES, start) \
                and end < len(text) and text[end] not in _ZH_AFTER_OK:
            continue  # 名字都够霸气: a common character after a label without a colon must end at a boundary
        if n:
            out.append((start, end, 0.85, "zh_name_label"))
    for m in _ZH_MY_NAME.finditer(text):
        run = m.group("run")
        if run not in _NOT_ZH_NAMES and not any(c in _ZH_TAIL for c in run[1:]):
            out.append((m.start("run"), m.end("run"), 0.8, "zh_name_context"))
    for m in _ZH_WEAK_CUE.finditer(text):
        start = m.start("run")
        n = _zh_name_length(m.group("run"), colon=True, need_surname=True)
        if n:
            out.append((start, start + n, 0.8, "zh_name_label"))
    for rx, strict in ((_ZH_STRICT_CUE, True), (_ZH_LOOSE_CUE, False)):
        for m in rx.finditer(text):
            start = m.start("run")
            n = _zh_name_length(m.group("run"), colon=False, need_surname=True)
            end = start + n
            if not n:
                continue
            nxt = text[end:end + 2]
            at_boundary = end >= len(text) or nxt[0] in _ZH_AFTER_OK
            common = text[start] in _ZH_COMMON_SURNAMES and not text.startswith(ZH_COMPOUND_SURNAMES, start)
            if strict and n == 2 and text[start + 1] in _ZH_NOT_GIVEN_END:
                continue
            if at_boundary or (not strict and not common and (nxt[0] in _ZH_TAIL or nxt in _ZH_AFTER_WORDS)):
                out.append((start, end, 0.75, "zh_name_context"))
    if any(w in text for w in _ZH_TITLE_WORDS):
        for m in _ZH_TITLE.finditer(text):
            if not _ZH_PERSON_BRANDS.match(text, m.start("name")):
                out.append((m.start("name"), m.end("name"), 0.7, "zh_surname_title"))
    for rx, rule, hints in ((_ZH_NICK, "zh_nickname", "小老姐哥"), (_ZH_BEFORE_CONTACT, "zh_name_before_contact", None),
                            (_ZH_BEFORE_WORD, "zh_name_context", "名"), (_ZH_START_GREETING, "zh_name_context", None)):
        if hints is not None and not any(h in text for h in hints):
            continue
        if rx is _ZH_BEFORE_CONTACT and not (has_digit or "电话" in text or "手机" in text or "座机" in text
                                             or "联系" in text or "[" in text):
            continue
        for m in rx.finditer(text):
            name = m.group("name")
            if name not in _NOT_ZH_NAMES and name[:2] not in _NOT_ZH_NAMES:
                out.append((m.start("name"), m.end("name"), 0.75, rule))
    for m in _ZH_SIGNOFF.finditer(text) if any(w in text for w in _ZH_SIGNOFF_WORDS) else ():
        g = "name" if m.group("name") else "name2"
        name = m.group(g)
        if name not in _NOT_ZH_NAMES and name[:2] not in _NOT_ZH_NAMES and name[1] not in _ZH_NOT_FIRST:
            out.append((m.start(g), m.end(g), 0.75, "zh_signoff"))
    return out


# ---------------------------------------------------------------- English
_UP = "A-Z\u00c0-\u00d6\u00d8-\u00de"
_LO = "a-z\u00df-\u00f6\u00f8-\u00ff\u0100-\u017f"
# one name token: Capitalised, with diacritics, O'Brien, McAllister, Anna-Lena / Hye-jin, or an initial "K."
_TOK = rf"(?:[{_UP}](?:['’][{_UP}])?[{_LO}]+(?:['’][{_UP}]?[{_LO}]+)?(?:[{_UP}][{_LO}]+)?(?:-[{_UP}{_LO}][{_LO}]+)*|[{_UP}]\.?)"
_PARTICLE = r"(?:van|von|der|den|de|da|del|della|di|du|le|la|bin|ibn|al|el|Ní|Nic|Ó|Ua|Mac|St\.?)"
_SEQ = rf"{_TOK}(?:[ \t]+(?:{_PARTICLE}[ \t]+)*{_TOK}){{0,3}}"
_CAPS = r"[A-Z]{2,}(?:[ \t]+[A-Z]{2,}){0,2}\b"
_TITLE = r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Aunty|Auntie|Uncle|Lady|Lord)"
_NAME_AT = re.compile(rf"(?:{_TITLE}\.?[ \t]+)?{_SEQ}")
_CAPS_AT = re.compile(_CAPS)
_LOWER_AT = re.compile(r"[a-z]{2,}\b")
_EN_TITLE_WORD = re.compile(rf"{_TITLE}\.?[ \t]+(?={_TOK})")
# Where a name may start: a capital letter not inside a word, and (for lower-case chat) the start of a line.
_CAP_START = re.compile(rf"(?<![\w'’.])[{_UP}]")
# Cue patterns, matched case-sensitively at the END of the lower-cased text before a candidate name
# (re.IGNORECASE is several times slower); a candidate is looked at only when the word right before it
# is the last word of some cue (_TRIGGERS), so most capitalised words (sentence starts) cost one set lookup.
_LABEL_CUES = (
    r"my name is|my name's|name is|name's|full name|contact name|contact person|contact details|contact|"
    r"customer name|recipient name|recipient|name of (?:the )?recipient|billing name|billing contact|"
    r"account holder(?: name)?|account name|name on (?:the |my )?(?:account|card|order|parcel)|cardholder(?: name)?|"
    r"card holder(?: name)?|in the name of|under the name(?: of)?|addressed to|for the attention of|attn|name|customer"
)
_END_LABEL = re.compile(rf"\b(?P<cue>{_LABEL_CUES})(?:[ \t]+(?:is|was|should be))?[ \t]*(?P<colon>[:\-–|])?[ \t]*$")
_GREETINGS = (r"hi|hello|hey|hiya|heya|dear|morning|good morning|good afternoon|good evening|evening|afternoon|"
              r"greetings|yo")
_END_GREETING = re.compile(rf"(?:^|\n)[ \t]*(?:{_GREETINGS})(?:[ \t]+(?:there|all|again|team))?[,!]?[ \t]+$")
_SIGNOFFS = (r"thanks|thank you|many thanks|thx|ty|cheers|ta|regards|kind regards|kindest regards|best regards|"
             r"warm regards|warmest regards|best wishes|all the best|best|sincerely|yours sincerely|yours faithfully|"
             r"yours truly|yours|love|signed|take care")
_END_SIGNOFF = re.compile(
    rf"\b(?P<cue>{_SIGNOFFS})(?:[ \t]+(?:again|so much|a lot|in advance|mate|guys|all|very much))?"
    r"[,.!]*(?P<sep>[ \t]*\n[ \t]*|[ \t]+)(?:[-–—][ \t]*)?$"
)
_END_SELF = re.compile(r"\b(?P<cue>this is|it's|it’s|it is|i'm|i’m|i am)[ \t]+$")
_RELATIONS = (r"wife|husband|partner|son|daughter|mum|mom|mother|dad|father|brother|sister|friend|colleague|neighbour|"
              r"neighbor|boss|flatmate|roommate|aunt|uncle|grandmother|grandfather|gran|nan|grandma|grandpa|fianc[ée]e?|"
              r"boyfriend|girlfriend|kid|child|cousin|niece|nephew|assistant|manager|secretary|landlord|landlady|carer")
_END_RELATION = re.compile(rf"\b(?:my|our|his|her)[ \t]+(?:{_RELATIONS})(?:[ \t]+(?:is|was))?,?[ \t]+$")
_END_VERB = re.compile(
    r"\b(?:(?:speak|spoke|spoken|talk|talked|chat|chatted|speaking)[ \t]+(?:to|with)|tell|ask|asked|ring|"
    r"(?:signed[ \t]+for|collected|placed|ordered|received|paid|bought|sent|packed|left|taken|accepted)[ \t]+by|"
    r"belongs[ \t]+to|(?:address|addressed)[ \t]+(?:the[ \t]+invoice[ \t]+|it[ \t]+)?to|invoice[ \t]+(?:to|should[ \t]+say)|"
    r"made[ \t]+out[ \t]+to|(?:gift|present|order|parcel)[ \t]+(?:is|was)[ \t]+for|contact|call|email|thank|"
    r"gave[ \t]+(?:it|my[ \t]+\w+|the[ \t]+\w+)[ \t]+to|put)[ \t]+$"
)
_END_DELIVER = re.compile(r"\b(?:deliver|delivery|ship|send|post|deliveries)(?:[ \t]+(?:it|this|them))?[ \t]+(?:to|for)[ \t]*:?[ \t]+$")
_END_DOC_FROM = re.compile(
    r"\b(?:invoices?|bills?|receipts?|orders?|parcels?|packages?|messages?|e-?mails?|letters?|calls?)[ \t]+from[ \t]+$"
)
_LAST_WORD = re.compile(r"([\w'’]+)[^\w'’]*$")
_TRIGGERS = frozenset(
    "is name name's contact details person recipient holder cardholder attn to of was be customer hi hello hey hiya "
    "heya dear morning afternoon evening greetings yo there all again team thanks you thx ty cheers ta regards best "
    "wishes sincerely faithfully truly yours love signed care much lot advance mate guys it's it’s i'm i’m am with tell "
    "ask asked ring by for call email thank put from card account order parcel say".split()
) | frozenset(_RELATIONS.replace("fianc[ée]e?", "fiance fiancé fiancee fiancée").split("|"))
_EN_TEAM_AFTER = re.compile(
    r"[ \t]+from[ \t]+(?:(?:your|the)[ \t]+)?(?:[\w-]+[ \t]+){0,2}(?:team|department|dept|support|care|service|returns|"
    r"warehouse|accounts|office|shop|store|chat)\b"
)
_EN_HERE_AFTER = re.compile(r"[ \t]+(?:from[ \t]+\w+(?:[ \t]+\w+)?[ \t]+)?(?:here|speaking)\b")
_EN_RECIPIENT_AFTER = re.compile(r"[ \t]+as[ \t]+(?:the[ \t]+)?recipient")
_SEQ_BEFORE = re.compile(rf"(?P<name>{_SEQ})$")
_EN_FROM_COLON = re.compile(rf"\bfrom[ \t]+(?P<name>{_SEQ})(?=[ \t]*:)")
_TWO_TOKENS = re.compile(rf"{_TOK}[ \t]+{_TOK}")
_EN_TRAILING = re.compile(rf",[ \t]+(?P<name>{_SEQ})[.!]?[ \t]*$")
_EN_LINE = re.compile(rf"^[ \t]*(?:[-–—]+[ \t]*)?(?P<name>{_SEQ})[ \t]*(?:\([^)\n]*\)|,[^\n]*)?[ \t]*$", re.M)
_EN_AND_NAME = re.compile(rf"[ \t]+(?:and|&)[ \t]+(?P<name>{_TOK})(?=[,!.]|\n|$)")
# lower-case chat names ("hey sam thanks", "thx ellie", "hi this is dave") are looked for at line starts only
_LINE_START_LOWER = re.compile(
    r"[ \t]*(?:(?:(?:hi|hey|hello|hiya)[,!]?[ \t]+)?(?P<self>this is)|"
    rf"(?P<greet>(?:{_GREETINGS})[,!]?)|(?P<sign>(?:{_SIGNOFFS})(?:[ \t]+(?:again|so much|a lot|mate))?[,!.]?))[ \t]+(?=[a-z])"
)

_NOT_NAMES = frozenset(
    "I The This That It We You They He She Very Not So Happy Sorry Just Still Really Please Thanks Thank Hi Hello Order "
    "Customer Customers Service Services Support Team Sir Madam All Everyone There Here Again Writing Looking Trying "
    "Waiting Going Unable Unhappy Disappointed Glad Sure Okay Ok Yes No Hope Love Great Good Sales Shop Store Amazon "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April June July August "
    "September October November December Regards Best Cheers Size Small Medium Large Petite Blue Red Returning "
    "Calling Contacting Concerned Interested Confused Care Manager Returns Accounts Finance Dept Department Staff "
    "Admin Delivery Driver Courier Warehouse Head Purchasing Procurement Sent From Outlook Gmail Android Galaxy "
    "Samsung Apple Google Facebook Whatsapp WhatsApp Guys Folks Friends Mate Retailer Any Anyone Someone Somebody "
    "Could Can Would Will Should Is Are Was Were Do Does Did Has Have Had My Your Our Their His Her Its Our Me Us "
    "Them What When Where Why How Who Which If Then Also And But Or For From With About After Before Today Tomorrow "
    "Yesterday Morning Afternoon Evening Night Dear Kind Warm Yours Sincerely Faithfully Cheers Ta Thx Signed Best "
    "Wishes Re Fwd Subject Order Orders Invoice Refund Return Parcel Package Item Items Product Products Email Phone "
    "Mobile Tel Address Name Account Card Number Reference Ref Note Urgent Help Issue Problem Question Query Update "
    "Complaint Feedback Review Reply Response Website Site App Online Helpdesk Desk Chat Bot Agent Human Person "
    "Company Ltd Limited Inc Co Group Head Office Branch UK US USA EU Europe London Dublin Paris NHS VAT PDF OK".split()
)
_COMMON_LOWER = frozenset(
    "an bill else in many may my see so un will mark rose ray guy art hope joy grace faith dawn sunny summer autumn "
    "page pat sue don jack jan max bob bud chance chase chip clay cliff dale dean drew frank glen hunter lane lee "
    "major miles neil rich rod sky star sterling stone ted wade ward will young april june august holly ivy lily "
    "daisy olive ruby amber jasmine poppy violet iris pearl ginger honey candy crystal jade scarlet sandy rusty "
    "buddy ali jo ben ok".split()
) - frozenset("jo ben ali".split())
_STREET = frozenset(
    "Street St Road Rd Avenue Ave Lane Ln Drive Dr Boulevard Blvd Way Close Court Ct Place Pl Square Sq Terrace "
    "Crescent Cres Gardens Hill Parkway Pkwy Row Mews Grove Walk Highway Hwy".split()
)


def _clean_tokens(name: str) -> str:
    """The name without trailing words that are never part of a name (and without a lone title)."""
    words = name.split()
    while words and (words[-1] in _NOT_NAMES or words[-1].rstrip(".") in _STREET):
        words.pop()
    if words and words[0] in _NOT_NAMES and not (len(words) > 1 and re.fullmatch(_TITLE + r"\.?", words[0])):
        return ""
    if words and re.fullmatch(_TITLE + r"\.?", words[-1]):
        return ""
    return " ".join(words)


def _known_first(word: str) -> bool:
    w = word.rstrip(".").lower()
    return w in EN_FIRST_NAMES or w.split("-")[0] in EN_FIRST_NAMES


def _name_after(text: str, pos: int, *, need_known: bool, caps: bool = False,
                lower: bool = False) -> tuple[int, int] | None:
    """(start, end) of a name starting at ``pos``, or None."""
    m = _NAME_AT.match(text, pos)
    if m:
        name = _clean_tokens(m.group())
        if not name:
            return None
        words = name.split()
        core = [w for w in words if not re.fullmatch(_TITLE + r"\.?", w)]
        titled = len(core) < len(words)
        if need_known and not titled and not _known_first(core[0]) and not (
                len(core) >= 2 and core[-1].lower() in EN_SURNAMES):
            return None
        if not (len(core) == 1 and len(core[0].rstrip(".")) == 1):  # a lone initial is no name
            return pos, pos + len(name)
    if caps:
        m = _CAPS_AT.match(text, pos)
        words = m.group().split() if m else []
        while words and words[-1].capitalize() in _NOT_NAMES:
            words.pop()
        if words and words[0].capitalize() not in _NOT_NAMES:
            return pos, pos + len(" ".join(words))
    if lower:
        m = _LOWER_AT.match(text, pos)
        if m and m.group() in EN_FIRST_NAMES and m.group() not in _COMMON_LOWER:
            return pos, m.end()
    return None


def _ends_clause(text: str, end: int) -> bool:
    """True when a greeting's name is followed by punctuation, a line break, the end or 'and'."""
    rest = text[end:end + 6]
    return rest == "" or rest[0] in ",!.:;?)\n" or rest.startswith((" and ", " & ", " x", " -", " –", " :)"))


def _lower_same_length(text: str) -> str:
    """``text.lower()``, character by character where lower-casing would change the length (İ)."""
    low = text.lower()
    return low if len(low) == len(text) else "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _name_before(text: str, pos: int) -> tuple[int, int] | None:
    """(start, end) of the capitalised name ending right at ``pos`` (leading words that are never names skipped)."""
    lo = max(0, pos - 60)
    m = _SEQ_BEFORE.search(text, lo, pos)
    if not m:
        return None
    start, raw = m.start("name"), m.group("name")
    while raw.split() and raw.split()[0] in _NOT_NAMES:  # "Can Mia from ...": the name starts later
        skip = len(raw.split()[0])
        rest = raw[skip:]
        start += skip + len(rest) - len(rest.lstrip())
        raw = rest.lstrip()
    name = _clean_tokens(raw)
    return (start, start + len(name)) if name else None


def _en_persons(text: str) -> list[tuple[int, int, float, str]]:
    out: list[tuple[int, int, float, str]] = []
    add = lambda span, score, rule: out.append((span[0], span[1], score, rule)) if span else None  # noqa: E731
    low = _lower_same_length(text)
    for c in _CAP_START.finditer(text):
        pos = c.start()
        t = _EN_TITLE_WORD.match(text, pos)
        if t:
            span = _name_after(text, pos, need_known=False)
            if span and span[1] > t.end():
                add(span, 0.85, "en_name_title")
                continue
        ws = max(0, pos - 48)
        before = ("\x00" if ws else "") + low[ws:pos]
        last = _LAST_WORD.search(before)
        if last is None:
            continue
        if last.group(1) not in _TRIGGERS:
            continue
        _cue(text, before, pos, add)
    if "\n" in text or text[:12].lower().startswith(("hi", "he", "th", "ch", "ta", "ty")):
        for pos in [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]:
            m = _LINE_START_LOWER.match(low, pos)
            if m:
                span = _name_after(text, m.end(), need_known=True, lower=True)
                if span and (span[1] >= len(text) or text[span[1]] in " ,!.:\n"):
                    rule = "en_name_greeting" if m.group("greet") else "en_signoff" if m.group("sign") else "en_name_self"
                    tail = text[span[1]:].lstrip(" \t!.,:)x")
                    if m.group("greet") or not tail or tail.startswith(("\n", ":)")) or m.group("self"):
                        add(span, 0.7, rule)
    if "from " in low:
        for m in _EN_TEAM_AFTER.finditer(low):  # "Can Mia from customer care call me"
            span = _name_before(text, m.start())
            if span and (_known_first(text[span[0]:span[1]].split()[0]) or len(text[span[0]:span[1]].split()) >= 2):
                add(span, 0.75, "en_name_verb")
        if ":" in text:
            for m in _EN_FROM_COLON.finditer(text):
                name = _clean_tokens(m.group("name"))
                if name:
                    add((m.start("name"), m.start("name") + len(name)), 0.75, "en_name_self")
    if " here" in low or " speaking" in low:
        for m in _EN_HERE_AFTER.finditer(low):  # "Nadia here", "Hey, Brandon Nguyen here", "Esperanza Torres speaking"
            span = _name_before(text, m.start())
            if span:
                before = text[:span[0]].rstrip(" \t")
                if before == "" or before[-1] in ",.!?\n":
                    add(span, 0.75, "en_name_self")
    if "recipient" in low:
        for m in _EN_RECIPIENT_AFTER.finditer(low):
            span = _name_before(text, m.start())
            if span and (_known_first(text[span[0]:span[1]].split()[0]) or len(text[span[0]:span[1]].split()) >= 2):
                add(span, 0.75, "en_name_label")
    tail = _EN_TRAILING.search(text, max(0, len(text) - 80))
    if tail:
        name = _clean_tokens(tail.group("name"))
        if name and _known_first(name.split()[0]):
            add((tail.start("name"), tail.start("name") + len(name)), 0.7, "en_name_trailing")
    if "\n" in text:
        lines = text.split("\n")
        for m in _EN_LINE.finditer(text):
            if m.start() == 0:
                continue  # the first line is not a signature
            name = _clean_tokens(m.group("name"))
            if not name:
                continue
            words = name.split()
            known = _known_first(words[0]) or words[-1].lower() in EN_SURNAMES
            last = m.end() >= len(text.rstrip()) or text[m.end():].strip() == "" or len(lines) <= 4
            if known and (len(words) >= 2 or last):
                add((m.start("name"), m.start("name") + len(name)), 0.7, "en_name_line")
    elif text.lstrip().startswith(("-", "–", "—")):
        m = _EN_LINE.match(text)
        if m and _clean_tokens(m.group("name")):
            name = _clean_tokens(m.group("name"))
            add((m.start("name"), m.start("name") + len(name)), 0.7, "en_name_line")
    return out


def _cue(text: str, before: str, pos: int, add: Callable[[tuple[int, int] | None, float, str], None]) -> None:
    """The name starting at ``pos`` if the lower-cased ``before`` ends with a cue (first matching kind wins)."""
    m = _END_LABEL.search(before)
    if m:
        strong = bool(m.group("colon")) or not m.group("cue").startswith(("name", "customer", "contact"))
        span = _name_after(text, pos, need_known=not strong, caps=True)
        if span:
            add(span, 0.85, "en_name_label")
            return
    m = _END_GREETING.search(before)
    if m:
        span = _name_after(text, pos, need_known=False)
        if span and not (_ends_clause(text, span[1]) or _known_first(text[span[0]:span[1]].split()[0])):
            span = None
        if span:
            add(span, 0.8, "en_name_greeting")
            a = _EN_AND_NAME.match(text, span[1])
            if a:
                add((a.start("name"), a.end("name")), 0.8, "en_name_greeting")
            return
    m = _END_SIGNOFF.search(before)
    if m and not m.group("cue").startswith("love"):
        span = _name_after(text, pos, need_known=False)
        if span:
            end_ok = span[1] >= len(text.rstrip()) or text[span[1]:span[1] + 1] in ("\n", "!", ".", ",", " ", "(", ":")
            tail = text[span[1]:].lstrip(" \t!.,:)x")
            if end_ok and not (tail and not tail.startswith("\n") and "\n" not in m.group("sep")
                               and not _known_first(text[span[0]:span[1]].split()[0])
                               and len(text[span[0]:span[1]].split()) < 2):
                add(span, 0.8, "en_signoff")
                return
    m = _END_SELF.search(before)
    if m:
        span = _name_after(text, pos, need_known=True)
        if span:
            words = text[span[0]:span[1]].split()
            if len(words) >= 2 or _known_first(words[0]):
                add(span, 0.75, "en_name_self")
                return
    if _END_RELATION.search(before):
        span = _name_after(text, pos, need_known=False)
        if span:
            add(span, 0.85, "en_name_relation")
            return
    if _END_VERB.search(before):
        span = _name_after(text, pos, need_known=True)
        if span:
            add(span, 0.75, "en_name_verb")
            return
    if _END_DELIVER.search(before):
        span = _name_after(text, pos, need_known=True)
        if span and len(text[span[0]:span[1]].split()) >= 2:
            add(span, 0.75, "en_name_verb")
            return
    if _END_DOC_FROM.search(before):  # "the invoice from Anna Freeman": a known first name and surname
        two = _TWO_TOKENS.match(text, pos)
        if two:
            first, last = two.group().split()
            if _known_first(first) and last.lower() in EN_SURNAMES:
                add((two.start(), two.end()), 0.75, "en_name_verb")


# English rules run only when a capital letter or a lower-case greeting / thanks is present
_GATE = re.compile(r"[A-Z\u00c0-\u00de]|\b(?:hi|hey|hello|thx|thanks|cheers|this is)\b", re.I)


def find_persons(text: str, has_han: bool) -> list[tuple[int, int, float, str]]:
    """(start, end, score, rule) of each name found in ``text``, one per span (the best-scoring rule).

    ``has_han``: whether the text holds Chinese characters (the Chinese rules run only then).
    Overlapping spans of different lengths are left for the caller to resolve.
    """
    found = _zh_persons(text) if has_han else []
    if _GATE.search(text):
        found += _en_persons(text)
    best: dict[tuple[int, int], tuple[int, int, float, str]] = {}
    for f in found:
        if f[1] > f[0] and ((f[0], f[1]) not in best or f[2] > best[(f[0], f[1])][2]):
            best[(f[0], f[1])] = f
    return sorted(best.values())
