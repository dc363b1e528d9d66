"""Build the PII evaluation set ``pii_eval.jsonl`` (seeded, reproducible).

Every sentence template below was written by hand for this set (support chats,
reviews, delivery notes, in English and Chinese). Slots in braces are filled by
seeded generators; labelled slots become gold entities, hard-negative slots
(order / tracking numbers, SKUs, prices, dates, quantities, checksum-invalid IDs and
cards) are left unlabelled. Literal names written inline as ``[[PERSON:...]]`` are
labelled too. Run ``python tests/data/pii/build_eval.py`` to rebuild.

Each output line: {"id", "lang", "text", "entities": [{"type", "start", "end"}]}.
"""

from __future__ import annotations

import json
import random
import re
from datetime import date, timedelta
from pathlib import Path

SEED = 20261128
rng = random.Random(SEED)

# ----------------------------------------------------------------- value generators
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
ZH_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "桂英", "志强",
            "建华", "晓东", "婷婷", "雪梅", "海燕", "子涵", "浩然", "欣怡", "俊杰", "思远", "佳怡", "宇航", "梓萱", "一鸣", "文博"]
EN_FIRST = ["Grace", "Oliver", "Sophie", "James", "Amelia", "Harry", "Emily", "Jack", "Olivia", "Thomas", "Priya", "Mohammed",
            "Chloe", "Daniel", "Hannah", "Lucas", "Isla", "Noah", "Ella", "George", "Fatima", "Wei", "Carlos", "Megan"]
EN_LAST = ["Roberts", "Clarke", "Patel", "Smith", "Jones", "Williams", "Taylor", "Brown", "Wilson", "Evans", "Thomas", "Khan",
           "Walker", "Wright", "Hughes", "Green", "Lewis", "Harris", "Martin", "Cooper", "Murphy", "Kelly", "Chen", "Garcia"]
PROVINCES = [("浙江省", "杭州市", ["西湖区", "余杭区", "滨江区"]), ("广东省", "深圳市", ["南山区", "福田区", "宝安区"]),
             ("广东省", "广州市", ["天河区", "海珠区", "白云区"]), ("江苏省", "南京市", ["鼓楼区", "玄武区", "江宁区"]),
             ("四川省", "成都市", ["武侯区", "锦江区", "高新区"]), ("湖北省", "武汉市", ["洪山区", "江汉区", "武昌区"]),
             ("山东省", "青岛市", ["市南区", "崂山区", "黄岛区"]), ("", "北京市", ["朝阳区", "海淀区", "东城区"]),
             ("", "上海市", ["浦东新区", "徐汇区", "静安区"]), ("福建省", "厦门市", ["思明区", "湖里区"]), ("陕西省", "西安市", ["雁塔区", "碑林区"])]
ROADS = ["文三路", "建国路", "中山路", "人民路", "解放大道", "科技园南路", "长江路", "南京东路", "天府大道", "学院路", "珞喻路", "香港中路", "华山路"]
ESTATES = ["阳光花园", "万科城", "绿城小区", "华星时代广场", "金地公寓", "碧桂园", "保利中心", "东方大厦", "幸福里小区"]
EN_STREETS = ["Baker Street", "High Street", "Station Road", "Church Lane", "Oak Avenue", "Maple Drive", "Victoria Road",
              "Park Lane", "Mill Road", "Queen Street", "Elm Grove", "Kings Road", "Market Place", "Sunset Boulevard"]
EN_TOWNS = [("London", "NW1 6XE"), ("Manchester", "M1 4BT"), ("Leeds", "LS1 5DL"), ("Bristol", "BS1 4ST"), ("Springfield, IL", "62704"),
            ("Austin, TX", "78701"), ("Glasgow", "G2 3BZ"), ("Oxford", "OX1 2JD")]
ID_REGIONS = ["110105", "310104", "330106", "440305", "510107", "420111", "370202", "320106", "610113", "350203"]


def luhn_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def cn_id(valid: bool = True) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = rng.choice(ID_REGIONS) + born.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]
    if not valid:
        check = rng.choice([c for c in "0123456789X" if c != check])
    return body + check


def card(valid: bool = True, grouped: bool | None = None) -> str:
    prefix, length = rng.choice([("4", 16), ("5" + str(rng.randint(1, 5)), 16), ("62", 16), ("62", 19), ("37", 15)])
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    d = luhn_digit(body)
    if not valid:
        d = str((int(d) + rng.randint(1, 9)) % 10)
    num = body + d
    if grouped is None:
        grouped = rng.random() < 0.6
    if grouped and length == 16:
        num = " ".join(num[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.7 else "-".join(num[i:i + 4] for i in range(0, 16, 4))
    elif grouped and length == 15:
        num = f"{num[:4]} {num[4:10]} {num[10:]}"
    return num


def cn_mobile() -> str:
    n = "1" + rng.choice("3456789") + "".join(str(rng.randrange(10)) for _ in range(9))
    style = rng.randrange(6)
    if style == 1:
        return f"{n[:3]} {n[3:7]} {n[7:]}"
    if style == 2:
        return f"{n[:3]}-{n[3:7]}-{n[7:]}"
    if style == 3:
        return "+86 " + n
    if style == 4:
        return "0086" + n
    return n


def cn_landline() -> str:
    area = rng.choice(["010", "021", "0571", "0755", "020", "028", "027"])
    local = "".join(str(rng.randrange(10)) for _ in range(8 if len(area) == 3 else rng.choice([7, 8])))
    local = str(rng.randint(2, 8)) + local[1:]
    return rng.choice([f"{area}-{local}", f"({area}){local}", f"{area} {local}"])


def intl_phone() -> str:
    return rng.choice([
        f"+44 7700 {rng.randint(900000, 900999)}", f"+44 20 7946 {rng.randint(1000, 9999)}",
        f"+1 (415) 555-{rng.randint(1000, 9999)}", f"+1 212-555-{rng.randint(1000, 9999)}", f"+49 30 {rng.randint(1000000, 9999999)}",
        f"+61 2 9876 {rng.randint(1000, 9999)}", f"+33 6 12 34 {rng.randint(10, 99)} {rng.randint(10, 99)}",
        f"+852 {rng.randint(5000, 9999)} {rng.randint(1000, 9999)}",
    ])


def us_phone() -> str:
    return rng.choice([f"(415) 555-{rng.randint(1000, 9999)}", f"212-555-{rng.randint(1000, 9999)}", f"646.555.{rng.randint(1000, 9999)}"])


def email() -> str:
    user = rng.choice([f"{rng.choice(EN_FIRST).lower()}.{rng.choice(EN_LAST).lower()}", f"{rng.choice(EN_FIRST).lower()}{rng.randint(1, 99)}",
                       f"zhang{rng.randint(100, 999)}", f"wang_li{rng.randint(1, 9)}", "shopper+returns"])
    return user + "@" + rng.choice(["gmail.com", "163.com", "qq.com", "outlook.com", "example.co.uk", "foxmail.com", "yahoo.com"])


def zh_name() -> str:
    return rng.choice(ZH_SURNAMES) + rng.choice(ZH_GIVEN)


def en_name() -> str:
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"


def zh_address() -> str:
    prov, city, dists = rng.choice(PROVINCES)
    parts = [prov if rng.random() < 0.7 else "", city, rng.choice(dists), rng.choice(ROADS), f"{rng.randint(1, 999)}号"]
    if rng.random() < 0.6:
        parts.append(rng.choice(ESTATES) + rng.choice(["", f"{rng.randint(1, 30)}栋", f"{rng.randint(1, 12)}号楼"]))
    if rng.random() < 0.5:
        parts.append(f"{rng.randint(1, 3)}单元" if rng.random() < 0.3 else "")
        parts.append(f"{rng.randint(1, 32)}{rng.randint(1, 9):02d}室")
    return "".join(parts)


def en_address() -> str:
    town, post = rng.choice(EN_TOWNS)
    street = f"{rng.randint(1, 450)} {rng.choice(EN_STREETS)}"
    if rng.random() < 0.3:
        street = f"Flat {rng.randint(1, 20)}, " + street
    r = rng.random()
    if r < 0.4:
        return f"{street}, {town} {post}"
    if r < 0.7:
        return f"{street}, {town}"
    return street


def ip() -> str:
    return rng.choice([f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}", f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"])


def url_pii() -> str:
    return rng.choice([
        f"https://shop.example.com/track?email={email().replace('@', '%40')}&order=88123",
        f"https://m.example.cn/order/detail?phone={cn_mobile().replace(' ', '').replace('-', '').replace('+86', '')}",
        f"http://example.com/unsubscribe?user={email()}",
    ])


def passport() -> str:
    return rng.choice([f"E{rng.randint(10000000, 99999999)}", f"G{rng.randint(10000000, 99999999)}", f"P{rng.randint(1000000, 9999999)}",
                       f"{rng.randint(100000000, 999999999)}"])


def order_no() -> str:
    while True:
        n = rng.choice([
            "2023" + "".join(str(rng.randrange(10)) for _ in range(14)), f"ORD-2023-{rng.randint(100000, 999999)}",
            f"#{rng.randint(1000000, 9999999)}", "".join(str(rng.randrange(10)) for _ in range(16)), f"{rng.randint(100000, 999999)}",
            "1" + "".join(str(rng.randrange(10)) for _ in range(17)),
        ])
        digits = re.sub(r"\D", "", n)
        if len(digits) == 18 and cn_id_valid(digits):
            continue  # order numbers that happen to be valid IDs are not negatives
        return n


def cn_id_valid(s: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    try:
        return "10X98765432"[sum(int(c) * w for c, w in zip(s, weights)) % 11] == s[17] and 1900 <= int(s[6:10]) <= 2026 and \
            bool(date(int(s[6:10]), int(s[10:12]), int(s[12:14])))
    except ValueError:
        return False


def tracking() -> str:
    return rng.choice([f"SF{rng.randint(10**12, 10**13 - 1)}", f"YT{rng.randint(10**12, 10**13 - 1)}", f"1Z{rng.randint(100, 999)}AA1{rng.randint(10**11, 10**12 - 1)}",
                       f"JD{rng.randint(10**12, 10**13 - 1)}", f"{rng.randint(7 * 10**14, 8 * 10**14 - 1)}", f"43{rng.randint(10**10, 10**11 - 1)}",
                       f"RB{rng.randint(10**8, 10**9 - 1)}GB"])


def sku() -> str:
    return rng.choice([f"{rng.randint(10000, 99999)}{rng.choice('ABCDEFG')}", f"A{rng.randint(2020, 2024)}-{rng.choice(['XL', 'M', 'S'])}",
                       f"SKU-{rng.randint(100000, 999999)}"])


def price() -> str:
    return rng.choice([f"¥{rng.randint(9, 3999)}.00", f"£{rng.randint(2, 300)}.{rng.randint(0, 99):02d}", f"${rng.randint(1, 9)},{rng.randint(100, 999)}.00",
                       f"{rng.randint(10, 999)}元"])


def a_date() -> str:
    d = date(2023, 1, 1) + timedelta(days=rng.randrange(700))
    return rng.choice([d.isoformat(), f"{d.year}年{d.month}月{d.day}日", d.strftime("%d/%m/%Y"), d.strftime("%B %d, %Y")])


def qty() -> str:
    return rng.choice([f"{rng.randint(1, 12)}件", f"qty {rng.randint(1, 9)}", f"x{rng.randint(1, 6)}", f"{rng.randint(1, 5)} pairs"])


SLOTS = {  # slot -> (generator, label or None for hard negatives)
    "MOBILE": (cn_mobile, "PHONE"), "LANDLINE": (cn_landline, "PHONE"), "INTL": (intl_phone, "PHONE"), "USPHONE": (us_phone, "PHONE"),
    "EMAIL": (email, "EMAIL"), "IP": (ip, "IP_ADDRESS"), "URL": (url_pii, "URL"), "ID": (lambda: cn_id(True), "CN_ID"),
    "CARD": (lambda: card(True), "BANK_CARD"), "PASSPORT": (passport, "PASSPORT"), "ZHADDR": (zh_address, "ADDRESS"),
    "ENADDR": (en_address, "ADDRESS"), "ZHNAME": (zh_name, "PERSON"), "ENNAME": (en_name, "PERSON"),
    "ENFIRST": (lambda: rng.choice(EN_FIRST), "PERSON"), "SURNAME": (lambda: rng.choice(ZH_SURNAMES), "PERSON"),
    "BADID": (lambda: cn_id(False), None), "BADCARD": (lambda: card(False), None), "ORDER": (order_no, None),
    "TRACK": (tracking, None), "SKU": (sku, None), "PRICE": (price, None), "DATE": (a_date, None), "QTY": (qty, None),
}

EN_TEMPLATES = """\
Hi, my name is {ENNAME} and my order {ORDER} still hasn't arrived.
Please call me on {INTL} about the refund for order {ORDER}.
You can reach me at {EMAIL} or {USPHONE}.
The parcel with tracking number {TRACK} was delivered to the wrong house.
Please ship the replacement to {ENADDR}.
I moved! New address: {ENADDR}. Order {ORDER}.
Dear {ENNAME}, your refund of {PRICE} for order {ORDER} has been processed.
Thanks,\\n{ENNAME}
My card {CARD} was charged twice for {PRICE}.
The card ending in the number {BADCARD} is not mine, order {ORDER}.
I paid with card number {CARD} on {DATE}, please check.
Someone logged into my account from {IP} yesterday, please help.
Login alert: new sign-in from IP {IP} on {DATE}.
I clicked this link and it shows my details: {URL}
Ordered {QTY} of SKU {SKU} for {PRICE}, arrived on {DATE}. Love them!
Great dress, fits true to size. Bought it on {DATE} for {PRICE}.
Tracking {TRACK} says delivered but nothing here. Order {ORDER}.
Return label for order {ORDER} please, item {SKU}, {QTY}.
My passport number is {PASSPORT}, needed for the customs form.
Customs asked for my passport: {PASSPORT}. Order {ORDER}.
Hello, this is {ENFIRST} from flat 4, I never received order {ORDER}.
Recipient: {ENNAME}, phone {INTL}.
Contact person: {ENNAME} ({EMAIL})
Mr. {ENNAME} called about invoice {ORDER} for {PRICE}.
Please update my phone number to {USPHONE} and email to {EMAIL}.
Order {ORDER} total {PRICE}, paid {DATE}, {QTY}.
The colour is lovely but the seams came apart after {QTY} washes.
Deliver to {ENADDR} and text me at {INTL} when you arrive.
I live at {ENADDR}, the courier keeps going to the wrong door.
Refund {PRICE} to the card {CARD} please.
Kind regards,\\n{ENNAME}
Best,\\n{ENFIRST}
Invoice {ORDER} dated {DATE} shows {PRICE}; my account email is {EMAIL}.
Cheers, {ENNAME}
I'm {ENFIRST}, I ordered the blue jacket in size M ({SKU}).
Hi {ENFIRST}, thanks for reaching out about order {ORDER}.
Please don't call {USPHONE} after 6pm, use {EMAIL} instead.
The courier left the parcel {TRACK} at {ENADDR}.
Item {SKU} was {PRICE} on {DATE} but now it is more expensive.
Reference {ORDER}: payment failed on card {BADCARD}.
Order number {BADID} is missing, please check.
Your order {ORDER} of {QTY} ships in 2-3 days.
Attn: {ENNAME}, {ENADDR}
I can be reached on {INTL} or by mail at {EMAIL}, {ENNAME}.
Bought {QTY} for my daughter, she loves them. Order {ORDER}.
Second time ordering, sizes run small. Tracking {TRACK}.
My account was opened from {IP}, that was not me!
Customer: {ENNAME}\\nOrder: {ORDER}\\nAmount: {PRICE}
Sent by {ENNAME} on {DATE}.
""".splitlines()

ZH_TEMPLATES = """\
我叫{ZHNAME}，订单号{ORDER}一直没发货。
收件人：{ZHNAME}，电话：{MOBILE}，地址：{ZHADDR}
请把货寄到{ZHADDR}，谢谢！
快递单号{TRACK}显示已签收，但我没收到。
我的手机号是{MOBILE}，有问题请联系我。
联系人{ZHNAME}，座机{LANDLINE}。
身份证号{ID}，用于清关实名认证。
清关需要身份证：{ID}，订单{ORDER}。
订单号{BADID}的商品什么时候发？
银行卡{CARD}被扣了两次款，金额{PRICE}。
退款请退到我的卡{CARD}。
卡号{BADCARD}不是我的，订单{ORDER}。
衣服质量很好，{PRICE}买的，{QTY}，{DATE}收到。
物流太慢了，运单号{TRACK}，{DATE}下单到现在还没到。
收货地址改为{ZHADDR}，收货人{ZHNAME}。
{ZHNAME}，电话{MOBILE}，{ZHADDR}
您好{SURNAME}先生，您的订单{ORDER}已发货，快递单号{TRACK}。
{SURNAME}女士您好，退款{PRICE}已原路返回。
我的邮箱是{EMAIL}，请把发票发给我。
登录IP是{IP}，不是我本人操作的。
护照号码{PASSPORT}，用于海外直邮报关。
客户反馈：货号{SKU}的尺码偏小，{QTY}。
{DATE}下单，{PRICE}，{QTY}，好评！
本人{ZHNAME}，身份证{ID}，手机{MOBILE}。
送到{ZHADDR}，到了打我电话{MOBILE}。
我住在{ZHADDR}，快递员总是放错地方。
订单{ORDER}，商品{SKU}，价格{PRICE}，数量{QTY}。
这个链接会显示我的信息：{URL}
麻烦改一下联系电话：{LANDLINE}。
签收人：{ZHNAME}
寄件人{ZHNAME}，手机{MOBILE}
发票抬头写{ZHNAME}就行，邮箱{EMAIL}。
快递{TRACK}被退回了，地址是{ZHADDR}没错啊。
订单号{ORDER}，退款{PRICE}，请尽快处理。
宝贝收到了，和描述一致，{QTY}，{DATE}。
我是{ZHNAME}，上次买的{SKU}有质量问题。
国外的朋友电话是{INTL}，帮忙转寄。
信用卡尾号不对，完整卡号{CARD}。
充电宝{PRICE}，{DATE}买的，用了{QTY}次就坏了。
请联系{ZHNAME}（{MOBILE}）取件。
名字叫{ZHNAME}，地址{ZHADDR}。
——{ZHNAME}
""".splitlines()

NEGATIVES = """\
The fabric is soft and the colour matches the photos. Would buy again.
Size 10 fits perfectly, I am 5'6" and 130 lbs.
Order 1045839 arrived in 3 days, packaging was fine.
Returned it on 12/03/2023 because it was too short.
Used code SAVE20 and paid £39.99 instead of £49.99.
The model number is XR-2201 and the warranty is 2 years.
Delivery took 14 days, tracking said it was stuck in customs.
I would rate it 4 out of 5, the zipper is weak.
Bought 2 pairs in March and 3 more in June 2023.
Version 1.2.3.4 of the app crashes when I open my orders.
质量很好，物流很快，五星好评！
衣服有点色差，但是总体满意，价格199元。
第二次购买了，还是一如既往的好。
发货速度快，包装完好，3天就到了。
尺码偏大一码，建议买小一号。
2023年11月11日下单，11月13日收到。
用了一个星期，电池续航还可以。
客服态度很好，问题解决得很及时。
这款手机壳做工精细，手感不错。
订单已取消，退款3-5个工作日到账。
The shoes are comfortable but run a bit narrow.
Stock code 85123A is the heart holder, 6 units per box.
Paid $1,299.00 for the laptop, arrived on November 5, 2023.
I ordered 12 mugs and 2 arrived broken.
宝贝跟描述一样，下次还来。
快递员很负责，送货上门。
颜色很正，面料舒服，性价比高。
包装很严实，没有任何损坏。
This top is a great layering piece for fall.
I love the pattern, got so many compliments at work.
""".splitlines()


def fill(template: str, lang: str) -> dict:
    template = template.replace("\\n", "\n")
    text, ents, pos = "", [], 0
    for m in re.finditer(r"\{([A-Z]+)\}|\[\[([A-Z_]+):([^\]]+)\]\]", template):
        text += template[pos:m.start()]
        if m.group(1):
            gen, label = SLOTS[m.group(1)]
            value = gen()
        else:
            value, label = m.group(3), m.group(2)
        if label:
            if m.group(1) == "SURNAME":  # the title belongs to the name: 王先生
                title = re.match(r"(先生|女士|小姐)", template[m.end():])
                value_end = len(text) + len(value) + (len(title.group()) if title else 0)
                ents.append({"type": label, "start": len(text), "end": value_end})
            else:
                ents.append({"type": label, "start": len(text), "end": len(text) + len(value)})
        text += value
        pos = m.end()
    text += template[pos:]
    return {"lang": lang, "text": text, "entities": ents}


def build() -> list[dict]:
    rows = []
    for lang, templates, copies in (("en", EN_TEMPLATES, 5), ("zh", ZH_TEMPLATES, 5)):
        for t in templates:
            if t.strip():
                rows += [fill(t, lang) for _ in range(copies)]
    for t in NEGATIVES:
        rows.append({"lang": "zh" if re.search(r"[\u4e00-\u9fff]", t) else "en", "text": t, "entities": []})
    for i, r in enumerate(rows):
        r["id"] = i
    return rows


def build_heldout() -> list[dict]:
    """The held-out texts of ``heldout.txt`` (written after the rules were frozen)."""
    rng.seed(SEED + 1)
    rows = []
    for line in Path(__file__).with_name("heldout.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        line = line.replace("{ID}", cn_id(True)).replace("{CARD}", card(True)).replace("{BADID}", cn_id(False))
        line = line.replace("{BADCARD}", card(False))
        row = fill(line, "zh" if re.search(r"[\u4e00-\u9fff]", line) else "en")
        row["id"] = len(rows)
        rows.append(row)
    return rows


def build_realistic(files: tuple[str, ...] = ("realistic_en.txt", "realistic_zh.txt"), seed: int = SEED + 2) -> list[dict]:
    """Realistic support messages of ``realistic_en.txt`` and ``realistic_zh.txt`` (issue #20; see tests/data/WRITING.md).

    Written by hand before the PERSON rules were changed for them; names in the shapes the
    first rules missed, and look-alikes that are not names (brands, places, products, staff
    titles). ``realistic_dev.txt`` (the development messages the rules were tuned on) is
    built the same way into ``pii_realistic_dev.jsonl``.
    """
    rng.seed(seed)
    rows = []
    for name in files:
        for line in Path(__file__).with_name(name).read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            line = line.replace("{ID}", cn_id(True)).replace("{CARD}", card(True))
            row = fill(line, "zh" if re.search(r"[\u4e00-\u9fff]", line) else "en")
            row["id"] = len(rows)
            rows.append(row)
    return rows


def write(rows: list[dict], name: str) -> None:
    out = Path(__file__).with_name(name)
    with open(out, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"id": r["id"], "lang": r["lang"], "text": r["text"], "entities": r["entities"]}, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} texts to {out}")


if __name__ == "__main__":
    write(build(), "pii_eval.jsonl")
    write(build_heldout(), "pii_heldout.jsonl")
    write(build_realistic(), "pii_realistic.jsonl")
    write(build_realistic(("realistic_dev.txt",), SEED + 3), "pii_realistic_dev.jsonl")
