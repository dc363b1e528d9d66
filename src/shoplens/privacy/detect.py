"""PII detection in free text, Chinese and English, written for e-commerce.

Each finding carries its type, character span (end exclusive), score and the rule
that found it. Rules are regular expressions plus validators (GB 11643 checksum and
birth date for resident IDs, Luhn for cards) and context words: words near a match
raise its score (as in Presidio), order/tracking/SKU words nearby lower it, so
order numbers, tracking numbers, SKUs, prices, dates and quantities stay unflagged.

Why by hand: Presidio has no Chinese recognisers and its pipeline (spaCy NLP per
text) is slow; these patterns need no model and scan tens of thousands of short
messages per second on one core (see ``bench/pii.py``).

>>> scanner = PiiScanner()
>>> [(f.type, f.start, f.end) for f in scanner.scan("我叫张伟，手机13812345678")]
[('PERSON', 2, 4), ('PHONE', 7, 18)]
>>> scanner.scan("订单号 202311051234567890 已发货")
[]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date

from shoplens.privacy.person import find_persons

PII_TYPES = ("PHONE", "EMAIL", "IP_ADDRESS", "URL", "CN_ID", "BANK_CARD", "PASSPORT", "ADDRESS", "PERSON")


@dataclass(frozen=True)
class Finding:
    """One PII span in a text (``end`` exclusive)."""

    type: str
    start: int
    end: int
    score: float
    rule: str

    def to_dict(self) -> dict:
        return asdict(self)


_Add = Callable[[Finding], None]

# ---------------------------------------------------------------- context words
_NEGATIVE = re.compile(
    r"(订单|单号|运单|快递|物流|编号|货号|型号|批次|流水|发票|退款单|工单|sku|order|tracking|track|invoice|"
    r"ref\b|reference|parcel|shipment|waybill|item\s*(?:no|number|#)|model|serial|case\s*(?:no|number|#)|ticket|"
    r"coupon|code|券|码)",
    re.I,
)
_CONTEXT = {
    "PHONE": re.compile(
        r"(电话|手机|联系|致电|来电|打给|号码|微信|tel|phone|call|mobile|cell|whatsapp|text me|reach me|contact|ring)", re.I
    ),
    "BANK_CARD": re.compile(r"(卡号|银行卡|信用卡|储蓄卡|借记卡|尾号|card|visa|mastercard|amex|credit|debit|account)", re.I),
    "CN_ID": re.compile(r"(身份证|证件|实名|身份|id\s*(?:no|number|card)?|identity)", re.I),
    "ADDRESS": re.compile(r"(地址|收货|寄到|送到|配送|住在|住址|寄往|address|ship(?:ping)? to|deliver(?:ed|y)? to|live at|send (?:it )?to)", re.I),
    "IP_ADDRESS": re.compile(r"(\bip\b|address|地址|登录|login)", re.I),
}
_WINDOW = 24


def _has(pattern: re.Pattern[str], text: str, start: int, end: int, after: int = 0) -> bool:
    return pattern.search(text, max(0, start - _WINDOW), start) is not None or (
        after > 0 and pattern.search(text, end, end + after) is not None
    )


# ---------------------------------------------------------------- patterns
_D = r"(?<![0-9A-Za-z])"  # no letter or digit right before (CJK may touch the number)
_E = r"(?![0-9A-Za-z])"

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9])")
_URL = re.compile(r"https?://[^\s<>\"'，。）)]+", re.I)
_URL_PERSONAL = re.compile(
    r"[?&#](?:e?mail|phone|mobile|tel|user(?:name)?|name|customer|uid|idcard)=|%40|@|(?<!\d)1[3-9]\d{9}(?!\d)", re.I
)
_CN_MOBILE = re.compile(_D + r"(?:(?:\+|00)\s?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}" + _E)
_CN_LANDLINE = re.compile(_D + r"(?:\(0\d{2,3}\)\s?|0\d{2,3}[\s-])\d{7,8}" + _E)
_INTL = re.compile(r"(?<![0-9A-Za-z+])\+[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,5}\)?){2,5}" + _E)
_NANP = re.compile(r"(?<!\d[ -])" + _D + r"(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}" + _E)
_UK_LOCAL = re.compile(r"(?<!\d[ -])" + _D + r"(?:\(0[1-9]\d{1,3}\)|0[1-9]\d{2,3})\s\d{3,4}\s?\d{3,4}" + _E)
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])")
_ANY_DIGIT = re.compile(r"\d")
_ANY_HAN = re.compile(r"[\u4e00-\u9fff]")
# phones, IDs, cards, passports and IPs all need a run of 7+ digits / separators
_NUMBER_RUN = re.compile(r"\d[\d\s().+\-]{5,}\d|[A-Z]\d{6}")
_ROAD_HINT = re.compile(r"[路街巷弄]|胡同|大道")
_CITY_HINT = re.compile(r"市")
_VERSION = re.compile(r"(version|ver\.?|\bv|版本|固件|firmware)\s*$", re.I)
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![:\w])|(?<![:\w])(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}(?![:\w])")
_CN_ID = re.compile(_D + r"[1-8]\d{5}(?:19|20)\d{2}[01]\d[0-3]\d{4}[\dXx]" + _E)
_CARD = re.compile(_D + r"[3-6]\d{3}(?:[ -]?\d{4}){2}(?:[ -]?\d{1,4}){1,2}" + _E)
_CARD_AMEX = re.compile(_D + r"3[47]\d{2}[ -]\d{6}[ -]\d{5}" + _E)
_CARD_PLAIN = re.compile(_D + r"[3-6]\d{12,18}" + _E)
_PASSPORT = re.compile(_D + r"(?:[EGDSPK]\d{8}|[EG][A-Z]\d{7}|[A-Z]{1,2}\d{6,8}|\d{9})" + _E)
_PASSPORT_CONTEXT = re.compile(r"(护照|passport)", re.I)

# Chinese addresses: province / city / district / town / road + number / building / room.
_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|"
    "云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_HAN = r"(?:(?![是的在到址我你他她请寄送发收改为把要从和与跟就了吗呢吧啊哦么也都还又再能会想给让被将去离有靠拿近])[\u4e00-\u9fff])"
_NUM = r"(?:\d+|[一二三四五六七八九十百零]+)"
_ZH_ADDR = re.compile(
    rf"(?:(?:{_PROVINCES})(?:省|市|自治区|特别行政区)?|{_HAN}{{2,4}}省)?"
    rf"(?:{_HAN}{{1,4}}(?:市|州|盟))?"
    rf"(?:{_HAN}{{1,5}}(?:区|县|旗))?"
    rf"(?:{_HAN}{{1,5}}(?:镇|乡|街道))?"
    rf"(?:{_HAN}{{1,8}}(?:路|街|大道|大街|巷|弄|胡同))"
    rf"(?:{_NUM}(?:号|弄|巷))?"
    rf"(?:{_HAN}{{1,8}}(?:小区|花园|大厦|公寓|苑|村|广场|中心|园|城|府))?"
    rf"(?:(?:[A-Za-z]|{_NUM})+(?:号楼|栋|幢|座|号))?(?:{_NUM}单元)?(?:{_NUM}(?:楼|层))?(?:[A-Za-z]?{_NUM}(?:室|房|号))?"
)
_ZH_ADMIN = re.compile(
    rf"(?:(?:{_PROVINCES})(?:省|市|自治区)?|{_HAN}{{2,4}}省)?{_HAN}{{1,4}}市{_HAN}{{1,5}}(?:区|县)(?:{_HAN}{{1,5}}(?:镇|乡|街道))?"
    rf"(?:{_HAN}{{1,8}}(?:小区|花园|大厦|公寓|苑|村|广场|中心))?(?:{_NUM}(?:号楼|栋|幢|座))?(?:{_NUM}单元)?(?:{_NUM}(?:室|号))?"
)
# words with 市/区/路 that are not places: supermarket, city centre, listed company...
_NOT_ADDRESS = re.compile(r"超市|城市|上市|菜市|夜市|股市|集市|闹市|开市|黑市|早市|楼市|车市|市中心|市场|市区|区别|地区|景区|小区门口|路上|路线|路过|思路|道路|网路|电路|线路|套路|走路|一路")
_ROAD_NUMBER = re.compile(r"(?:路|街|大道|大街|巷|弄|胡同)(?:\d+|[一二三四五六七八九十百零]+)[号弄]")
def _windows(text: str, hint: re.Pattern[str], radius: int) -> list[tuple[int, int]]:
    """Merged spans of ``radius`` characters around each hint (expensive rules run only there)."""
    spans: list[tuple[int, int]] = []
    for m in hint.finditer(text):
        lo, hi = max(0, m.start() - radius), min(len(text), m.end() + radius)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


_STREET_TYPES = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Close|Court|Ct|Place|Pl|Square|Sq|Terrace|"
    r"Crescent|Cres|Gardens|Hill|Parkway|Pkwy|Row|Mews|Grove|Walk|Highway|Hwy"
)
_STREET_HINT = re.compile(r"\b(?:" + _STREET_TYPES + r")\b")
_EN_ADDR = re.compile(
    r"(?:(?:Flat|Apt|Apartment|Unit|Suite)\.?\s*#?\w{1,5},?\s+)?"
    r"(?<![\w£$€¥.])\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][a-z'’]+\s+){1,3}(?:" + _STREET_TYPES + r")\b\.?"
    r"(?:,?\s*(?:Flat|Apt|Apartment|Unit|Suite)\.?\s*#?\w{1,5})?"
    r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?"
    r"(?:,?\s*(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]{2}\s\d{5}(?:-\d{4})?|\d{5}))?"
)

def _cn_id_valid(s: str) -> bool:
    """GB 11643 checksum and a real birth date."""
    s = s.upper()
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(s[:17], weights))
    if "10X98765432"[total % 11] != s[17]:
        return False
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


class PiiScanner:
    """Find PII in texts.

    Parameters
    ----------
    threshold: findings scoring below it are dropped (0..1; context words move scores).
    types: the PII types to look for (default: all of :data:`PII_TYPES`).

    >>> PiiScanner(types=["EMAIL"]).scan("mail me at ann@shop.cn")[0].type
    'EMAIL'
    """

    def __init__(self, threshold: float = 0.5, types: Sequence[str] | None = None) -> None:
        self.threshold = threshold
        self.types = tuple(types) if types else PII_TYPES
        unknown = set(self.types) - set(PII_TYPES)
        if unknown:
            from shoplens.errors import UserInputError

            raise UserInputError(f"unknown PII type(s) {sorted(unknown)}; choose from {', '.join(PII_TYPES)}")
        self._want = frozenset(self.types)

    def __repr__(self) -> str:
        return f"PiiScanner(threshold={self.threshold}, types={list(self.types)})"

    # ---------------------------------------------------------------- public
    def scan(self, text: str | None) -> list[Finding]:
        """Findings in ``text``, sorted by start, non-overlapping."""
        if not text:
            return []
        found: list[Finding] = []
        add = found.append
        want = self._want
        # cheap gates first: most messages hold no PII, and each gate skips a group of rules
        has_digit = _ANY_DIGIT.search(text) is not None
        has_han = _ANY_HAN.search(text) is not None
        if "@" in text or "://" in text:
            if "EMAIL" in want:
                for m in _EMAIL.finditer(text):
                    add(Finding("EMAIL", m.start(), m.end(), 0.95, "email"))
            if "URL" in want:
                for m in _URL.finditer(text):
                    if _URL_PERSONAL.search(m.group()):
                        add(Finding("URL", m.start(), m.end(), 0.9, "url_with_personal_data"))
        if has_digit and _NUMBER_RUN.search(text):
            self._numbers(text, add)
        if "ADDRESS" in want:
            if has_han:
                for rx, hint, rule in ((_ZH_ADDR, _ROAD_HINT, "zh_address_road"), (_ZH_ADMIN, _CITY_HINT, "zh_address_admin")):
                    for lo, hi in _windows(text, hint, 40):
                        for m in rx.finditer(text, lo, hi):
                            self._zh_address(text, m, rule, add)
            if has_digit and _STREET_HINT.search(text):
                for m in _EN_ADDR.finditer(text):
                    score = 0.75 + (0.2 if _has(_CONTEXT["ADDRESS"], text, m.start(), m.end()) else 0.0)
                    add(Finding("ADDRESS", m.start(), m.end(), min(score, 1.0), "en_street_address"))
        if "PERSON" in want:
            self._persons(text, add, has_han)
        return self._resolve(found)

    def scan_many(self, texts: Iterable[str | None], processes: int = 1, chunk: int = 2000) -> list[list[Finding]]:
        """:meth:`scan` for each text, optionally on several processes (order kept).

        >>> [len(f) for f in PiiScanner().scan_many(["a@b.co", "nothing"], processes=2)]
        [1, 0]
        """
        items = list(texts)
        if processes <= 1 or len(items) <= chunk:
            return [self.scan(t) for t in items]
        import multiprocessing as mp

        parts = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        with mp.get_context("fork").Pool(processes) as pool:
            done = pool.map(self._scan_part, parts)
        return [found for part in done for found in part]

    def _scan_part(self, texts: list[str | None]) -> list[list[Finding]]:
        return [self.scan(t) for t in texts]

    # ---------------------------------------------------------------- rules
    def _numbers(self, text: str, add: _Add) -> None:
        want = self._want
        if "PHONE" in want:
            for rx, base, rule in (
                (_CN_MOBILE, 0.8, "cn_mobile"),
                (_CN_LANDLINE, 0.7, "cn_landline"),
                (_INTL, 0.75, "e164"),
                (_NANP, 0.6, "nanp"),
                (_UK_LOCAL, 0.55, "uk_local"),
            ):
                for m in rx.finditer(text):
                    n = len(_digits(m.group()))
                    if rule == "e164" and not 8 <= n <= 15:
                        continue
                    self._scored(text, m.start(), m.end(), "PHONE", base, rule, add)
        if "IP_ADDRESS" in want and ("." in text or ":" in text):
            for rx, rule in ((_IPV4, "ipv4"), (_IPV6, "ipv6")):
                for m in rx.finditer(text):
                    if _VERSION.search(text, max(0, m.start() - 12), m.start()):
                        continue
                    score = 0.7 + (0.25 if _has(_CONTEXT["IP_ADDRESS"], text, m.start(), m.end()) else 0.0)
                    add(Finding("IP_ADDRESS", m.start(), m.end(), score, rule))
        if "CN_ID" in want:
            for m in _CN_ID.finditer(text):
                if _cn_id_valid(m.group()):
                    self._scored(text, m.start(), m.end(), "CN_ID", 0.95, "cn_id_gb11643", add, penalty=0.5)
        if "BANK_CARD" in want:
            seen: set[int] = set()
            for rx in (_CARD, _CARD_AMEX, _CARD_PLAIN):
                for m in rx.finditer(text):
                    d = _digits(m.group())
                    if m.start() in seen or not 13 <= len(d) <= 19 or not _luhn(d):
                        continue
                    if len(d) == 18 and _cn_id_valid(d):
                        continue
                    seen.add(m.start())
                    base = 0.65 if len(d) in (15, 16, 19) else 0.5
                    self._scored(text, m.start(), m.end(), "BANK_CARD", base, "card_luhn", add)
        if "PASSPORT" in want:
            for m in _PASSPORT.finditer(text):
                if _has(_PASSPORT_CONTEXT, text, m.start(), m.end(), after=0):
                    add(Finding("PASSPORT", m.start(), m.end(), 0.85, "passport_with_context"))

    def _scored(self, text: str, start: int, end: int, kind: str, base: float, rule: str, add: _Add,
                penalty: float = 0.5) -> None:
        score = base
        if _has(_CONTEXT[kind], text, start, end, after=6):
            score += 0.25
        elif _has(_NEGATIVE, text, start, end):
            score -= penalty
        add(Finding(kind, start, end, round(min(score, 1.0), 3), rule))

    def _zh_address(self, text: str, m: re.Match[str], rule: str, add: _Add) -> None:
        s = m.group()
        if not s or _NOT_ADDRESS.search(s):
            return
        parts = sum(s.count(c) for c in "省市区县镇乡路街道巷弄号栋幢座单元室楼层")
        has_number = _ROAD_NUMBER.search(s) is not None
        admin = sum(s.count(c) for c in "省市区县")
        if rule == "zh_address_road" and not has_number and admin < 2:
            return
        if len(s) < 5:
            return
        score = 0.6 + min(0.05 * parts, 0.25)
        if _has(_CONTEXT["ADDRESS"], text, m.start(), m.end()):
            score += 0.15
        add(Finding("ADDRESS", m.start(), m.end(), round(min(score, 1.0), 3), rule))

    def _persons(self, text: str, add: _Add, has_han: bool) -> None:
        # the name rules and lists live in shoplens.privacy.person
        for start, end, score, rule in find_persons(text, has_han):
            add(Finding("PERSON", start, end, score, rule))

    def _resolve(self, found: list[Finding]) -> list[Finding]:
        """Keep findings above the threshold; on overlaps the longer, then higher-scoring one wins."""
        kept: list[Finding] = []
        for f in sorted(found, key=lambda f: (-(f.end - f.start) * (0.5 + f.score), f.start)):
            if f.score < self.threshold or f.type not in self._want:
                continue
            if any(f.start < k.end and k.start < f.end for k in kept):
                continue
            kept.append(f)
        return sorted(kept, key=lambda f: f.start)




def scan_text(text: str | None, threshold: float = 0.5) -> list[Finding]:
    """Findings in one text with the default scanner.

    >>> [f.type for f in scan_text("call +44 7700 900123 or mail a.b@c.co.uk")]
    ['PHONE', 'EMAIL']
    """
    return PiiScanner(threshold=threshold).scan(text)


# Words in a column's name that say it holds personal data (matched as whole words of the
# normalised name, or anywhere for the Chinese ones).
_PERSONAL_WORDS = frozenset({
    "name", "firstname", "lastname", "fullname", "surname", "nickname", "email", "e_mail",
    "phone", "mobile", "tel", "telephone", "fax", "address", "addr", "street", "postcode", "zip", "zipcode",
    "postal", "ssn", "passport", "iban", "ip", "birthday", "dob", "contact", "consignee", "wechat", "qq"})
_PERSONAL_HAN = re.compile(r"(姓名|名字|电话|手机|地址|收件人|收货人|邮箱|身份证|微信|生日|联系)")
_VALUE_TYPES = ("EMAIL", "PHONE", "CN_ID", "BANK_CARD", "PASSPORT", "IP_ADDRESS")


def personal_data_reason(column: str, values: Sequence[str]) -> str | None:
    """Why a column looks like personal data, or None: by its name (``Email``, ``first name``,
    ``收货人姓名``), or because any of ``values`` (a sample) holds an e-mail, phone, ID, card,
    passport number or IP address: one such value would otherwise be stored raw. Ingest refuses
    such a column as a customer attribute.

    >>> personal_data_reason("Loyalty Level", ["gold", "silver"]) is None
    True
    >>> personal_data_reason("customer_email", ["x"])
    "its name says it holds personal data ('email')"
    >>> personal_data_reason("note", ["call 13800138000", "ok", "fine"])
    '1 of 3 values sampled hold personal data (PHONE)'
    """
    words = re.split(r"[^0-9a-z]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column).lower())
    hit = next((w for w in words if w in _PERSONAL_WORDS), None) or next(iter(_PERSONAL_HAN.findall(column)), None)
    if hit:
        return f"its name says it holds personal data ({hit!r})"
    if not values:
        return None
    scanner = PiiScanner(types=_VALUE_TYPES)
    found = [{f.type for f in scanner.scan(v)} for v in values]
    n = sum(1 for f in found if f)
    if n:
        kinds = ", ".join(sorted(set().union(*found)))
        return f"{n} of {len(values)} values sampled hold personal data ({kinds})"
    return None
