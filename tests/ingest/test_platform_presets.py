"""Platform exports as presets: a Shopify orders export and a Taobao/Tmall order and item
report, built here in the platforms' real layouts (continuation rows, closed orders,
="..." numbers, GB18030 with CRLF, discounts), go in with counts that add up, order
totals equal to the file's to the cent, consent as the source states it and no raw
personal data anywhere in the warehouse."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from shoplens.ingest import ingest
from shoplens.insights.overview import kpis
from shoplens.insights.shop_report import build_shop_report
from shoplens.metrics import customer_value_sql
from shoplens.privacy.consent import allowed
from shoplens.store.shop import read_shop, set_shop

SHOPIFY_HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price",
    "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status",
    "Billing Name", "Billing Street", "Billing Address1", "Billing Address2", "Billing Company", "Billing City",
    "Billing Zip", "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping City", "Shipping Zip", "Shipping Country", "Shipping Phone", "Notes",
    "Cancelled at", "Payment Method", "Refunded Amount", "Vendor", "Id", "Tags", "Source", "Lineitem discount",
]

# (order-level fields on the first row only, then the line items)
SHOPIFY_ORDERS = [
    ({"Name": "#1001", "Email": "Ana.Lima@example.com", "Financial Status": "paid", "Paid at": "2024-03-05 14:23:15 -0500",
      "Accepts Marketing": "yes", "Currency": "EUR", "Subtotal": "59.85", "Shipping": "4.90", "Taxes": "11.36",
      "Total": "58.76", "Discount Code": "SPRING10", "Discount Amount": "5.99", "Created at": "2024-03-05 14:23:11 -0500",
      "Billing Name": "Ana Lima", "Billing Address1": "12 Rua Augusta", "Billing City": "Lisboa", "Billing Zip": "1100-053",
      "Billing Country": "PT", "Billing Phone": "+351 912 345 678", "Shipping Name": "Ana Lima",
      "Shipping Address1": "12 Rua Augusta", "Shipping Phone": "+351 912 345 678", "Id": "5550001", "Source": "web"},
     [("2", "Linen shirt", "19.95", "SH-LIN-M"), ("1", "Canvas tote", "19.95", "")]),
    ({"Name": "#1002", "Email": "bo.chen@example.com", "Financial Status": "refunded", "Accepts Marketing": "no",
      "Currency": "EUR", "Subtotal": "120.00", "Shipping": "0.00", "Taxes": "22.44", "Total": "120.00",
      "Discount Amount": "0.00", "Created at": "2024-03-06 09:00:00 +0100", "Cancelled at": "2024-03-06 10:30:00 +0100",
      "Refunded Amount": "120.00", "Billing Name": "Bo Chen", "Billing Address1": "3 Kanalstraat",
      "Billing City": "Amsterdam", "Billing Country": "NL", "Billing Phone": "+31 6 1234 5678", "Id": "5550002"},
     [("1", "Wool coat", "120.00", "CT-WOOL-L")]),
    ({"Name": "#1003", "Email": "carla@example.com", "Financial Status": "partially_refunded",
      "Accepts Marketing": "yes", "Currency": "EUR", "Subtotal": "77.07", "Shipping": "3.50", "Taxes": "14.40",
      "Total": "80.57", "Discount Amount": "0.00", "Created at": "2024-03-07 23:59:59 +0000",
      "Refunded Amount": "12.99", "Billing Name": "Carla Ruiz", "Billing Address1": "Calle Mayor 5",
      "Billing City": "Madrid", "Billing Country": "ES", "Billing Phone": "+34 600 111 222", "Id": "5550003"},
     [("3", "Socks (3-pack)", "12.99", "SO-3P"), ("1", "Linen shirt", "19.95", "SH-LIN-M"),
      ("1", "Scarf", "18.15", "SC-01")]),
    ({"Name": "#1004", "Email": "ana.lima@example.com ", "Financial Status": "pending", "Accepts Marketing": "yes",
      "Currency": "EUR", "Subtotal": "19.95", "Shipping": "0.00", "Taxes": "3.73", "Total": "19.95",
      "Discount Amount": "0.00", "Created at": "2024-03-08 08:15:00 -0500", "Billing Name": "Ana Lima",
      "Billing Address1": "12 Rua Augusta", "Billing City": "Lisboa", "Billing Country": "PT",
      "Billing Phone": "+351 912 345 678", "Id": "5550004"},
     [("1", "Canvas tote", "19.95", "")]),
    # refunded in full, not cancelled (bought and taken back: nets to zero); shipping on top of the line
    ({"Name": "#1005", "Email": "carla@example.com", "Financial Status": "refunded", "Accepts Marketing": "yes",
      "Currency": "EUR", "Subtotal": "19.95", "Shipping": "5.45", "Taxes": "4.75", "Total": "25.40",
      "Discount Amount": "0.00", "Created at": "2024-03-09 12:00:00 +0100", "Refunded Amount": "25.40",
      "Billing Name": "Carla Ruiz", "Billing Address1": "Calle Mayor 5", "Billing City": "Madrid",
      "Billing Country": "ES", "Billing Phone": "+34 600 111 222", "Id": "5550005"},
     [("1", "Linen shirt", "19.95", "SH-LIN-M")]),
]
# what the shop sold: the Totals less refunds of the orders that are sales (#1001 paid, #1003 partly
# refunded: 80.57 - 12.99); #1002 cancelled, #1004 pending and #1005 refunded in full add nothing
SHOPIFY_REVENUE = Decimal("58.76") + Decimal("80.57") - Decimal("12.99")
SHOPIFY_PII = ["ana.lima@example.com", "Ana.Lima@example.com", "bo.chen@example.com", "carla@example.com",
               "Ana Lima", "Bo Chen", "Carla Ruiz", "912 345 678", "1234 5678", "600 111 222",
               "Rua Augusta", "Kanalstraat", "Calle Mayor"]


def shopify_export(path):
    """The orders export as Shopify writes it: one row per line item, the order's
    columns on its first row only (Name, Email and the line columns on every row)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SHOPIFY_HEADER, lineterminator="\n")
    w.writeheader()
    for order, lines in SHOPIFY_ORDERS:
        for i, (qty, name, price, sku) in enumerate(lines):
            row = dict(order) if i == 0 else {"Name": order["Name"], "Email": order["Email"]}
            row.update({"Lineitem quantity": qty, "Lineitem name": name, "Lineitem price": price,
                        "Lineitem sku": sku, "Lineitem requires shipping": "true", "Lineitem taxable": "true",
                        "Lineitem fulfillment status": "pending", "Lineitem discount": "0.00", "Vendor": "Shop"})
            w.writerow(row)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


TAOBAO_ORDER_HEADER = [
    "订单编号", "买家会员名", "买家支付宝账号", "买家应付货款", "买家应付邮费", "总金额", "买家实际支付金额", "订单状态",
    "买家留言", "收货人姓名", "收货地址", "运送方式", "联系电话", "联系手机", "订单创建时间", "订单付款时间",
    "宝贝标题", "宝贝种类", "物流单号", "物流公司", "订单备注", "宝贝总数量", "店铺名称", "订单关闭原因", "退款金额",
]
# order number, buyer, goods, postage, paid (after a shop coupon), status, consignee, mobile, created
TAOBAO_ORDERS = [
    ("3312345678901234567", "tb_小明2019", "158.00", "0.00", "138.00", "交易成功", "王小明",
     "浙江省 杭州市 西湖区 文三路 100号", "13800138000", "2024-03-05 10:00:00"),
    ("3312345678901234568", "买家阿花", "59.90", "8.00", "67.90", "交易关闭", "李花",
     "上海 上海市 浦东新区 世纪大道 8号", "13900139000", "2024-03-05 23:30:00"),
    ("3312345678901234569", "tb_小明2019", "29.90", "0.00", "24.91", "卖家已发货，等待买家确认", "王小明",
     "浙江省 杭州市 西湖区 文三路 100号", "13800138000", "2024-03-06 08:01:02"),
]
TAOBAO_ITEM_HEADER = ["订单编号", "标题", "价格", "购买数量", "外部系统编号", "商品属性", "套餐信息", "备注", "订单状态", "商家编码"]
TAOBAO_ITEMS = [
    ("3312345678901234567", "夏季纯棉T恤 男款", "79.00", "2", "", "颜色分类：白色;尺码：L", "", "", "交易成功", "TX-001"),
    ("3312345678901234568", "保温杯 500ml", "59.90", "1", "", "颜色分类：蓝色", "", "", "交易关闭", "BW-500"),
    ("3312345678901234569", "手机壳 透明", "29.90", "1", "", "", "", "", "卖家已发货，等待买家确认", ""),
    ("3312345678901234999", "不存在的订单", "9.90", "1", "", "", "", "", "交易成功", "X-1"),  # no such order
]
TAOBAO_PII = ["王小明", "李花", "13800138000", "13900139000", "文三路", "世纪大道"]


def _excel_text(value: str) -> str:
    return f'="{value}"'


def taobao_reports(folder):
    """The order and item reports as the seller centre downloads them: GB18030, CRLF,
    numbers as ="..." (19-digit order numbers stay text) and mobiles prefixed with '."""
    def write(path, header, rows):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        w.writerows(rows)
        # csv quotes fields holding '"'; the seller centre writes ="..." bare: undo the quoting
        text = buf.getvalue().replace('"=""', '="').replace('"""', '"')
        path.write_bytes(text.encode("gb18030"))
        return path

    orders = []
    for no, buyer, goods, post, paid, status, name, addr, mobile, created in TAOBAO_ORDERS:
        total = f"{Decimal(goods) + Decimal(post):.2f}"
        row = dict.fromkeys(TAOBAO_ORDER_HEADER, "")
        row.update({"订单编号": _excel_text(no), "买家会员名": buyer, "买家支付宝账号": "", "买家应付货款": goods,
                    "买家应付邮费": post, "总金额": total, "买家实际支付金额": paid, "订单状态": status,
                    "收货人姓名": name, "收货地址": addr, "运送方式": "快递", "联系手机": "'" + mobile,
                    "订单创建时间": created, "订单付款时间": "" if status == "交易关闭" else created,
                    "宝贝总数量": "1", "店铺名称": "小店", "物流单号": _excel_text("773012345678901"),
                    "订单关闭原因": "买家不想买了" if status == "交易关闭" else "", "退款金额": "0.00"})
        orders.append([row[c] for c in TAOBAO_ORDER_HEADER])
    items = [[_excel_text(r[0]), *r[1:9], _excel_text(r[9]) if r[9] else ""] for r in TAOBAO_ITEMS]
    return (write(folder / "ExportOrderList202403.csv", TAOBAO_ORDER_HEADER, orders),
            write(folder / "ExportOrderDetailList202403.csv", TAOBAO_ITEM_HEADER, items))


def _adds_up(c) -> bool:
    return c.read == c.loaded + c.updated + c.quarantined + c.duplicates


def _all_text_at_rest(wh) -> list[str]:
    """Every text value of every table of the warehouse (canonical, quarantine, logs, vault)."""
    out = []
    for (table,) in wh.con.execute("SELECT DISTINCT table_name FROM information_schema.tables "
                                   "WHERE table_schema = 'main'").fetchall():
        cols = wh.con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                              "AND table_schema = 'main' AND data_type = 'VARCHAR'", [table]).fetchall()
        for (col,) in cols:
            out += [v for (v,) in wh.con.execute(f'SELECT DISTINCT "{col}" FROM "{table}"').fetchall() if v]
    return out


def test_spreadsheet_text_is_read_as_the_text_inside(tmp_wh, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('order_id,customer_id,ordered_at\n="0012345678901234567",\'007,2024-01-05\n', encoding="utf-8")
    mapping = {"source": {"spreadsheet_text": True}, "tables": {"orders": {}}}
    from shoplens.ingest.mapping import Mapping

    ingest(tmp_wh, [path], mapping=Mapping.parse(mapping), privacy="off")
    assert tmp_wh.query("SELECT order_id, customer_id FROM orders").values.tolist() == [["0012345678901234567", "007"]]


def test_without_spreadsheet_text_the_wrapper_stays(tmp_wh, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('order_id,ordered_at\n="0012",2024-01-05\n', encoding="utf-8")
    ingest(tmp_wh, [path], table="orders")
    assert tmp_wh.query("SELECT order_id FROM orders").order_id.tolist() == ['="0012"']


class TestShopify:
    @pytest.fixture()
    def loaded(self, tmp_wh, tmp_path):
        return tmp_wh, ingest(tmp_wh, [shopify_export(tmp_path / "orders_export_1.csv")], preset="shopify-orders")

    def test_counts_add_up(self, loaded):
        wh, r = loaded
        n_lines = sum(len(lines) for _, lines in SHOPIFY_ORDERS)
        assert (r.table, r.read, r.loaded, r.quarantined) == ("order_items", n_lines, n_lines, 0)
        assert _adds_up(r) and all(_adds_up(c) for c in r.derived.values())
        assert r.derived["orders"].read == r.derived["orders"].loaded == len(SHOPIFY_ORDERS)
        assert r.derived["customers"].loaded == 3  # Ana's two spellings of one email are one customer
        assert wh.query("SELECT count(*) AS n FROM order_items").n[0] == n_lines

    def test_order_totals_equal_the_file_to_the_cent(self, loaded):
        wh, _ = loaded
        got = {o: Decimal(str(t)).quantize(Decimal("0.01"))
               for o, t in wh.query("SELECT order_id, total_amount FROM orders").values.tolist()}
        want = {o["Name"]: Decimal(o["Total"]) for o, _ in SHOPIFY_ORDERS}
        assert got == want
        assert sum(got.values()) == Decimal("304.68")
        disc = wh.query("SELECT discount_amount FROM orders WHERE order_id = '#1001'").discount_amount[0]
        assert disc == pytest.approx(5.99)

    def test_status_currency_and_time(self, loaded):
        wh, _ = loaded
        rows = wh.query("SELECT order_id, status, currency, strftime(ordered_at, '%Y-%m-%d %H:%M:%S') AS t "
                        "FROM orders ORDER BY order_id").values.tolist()
        assert rows == [
            ["#1001", "paid", "EUR", "2024-03-05 19:23:11"],       # -0500 -> UTC
            ["#1002", "cancelled", "EUR", "2024-03-06 08:00:00"],  # Cancelled at wins over refunded
            ["#1003", "paid", "EUR", "2024-03-07 23:59:59"],       # partly refunded: still a sale
            ["#1004", "pending", "EUR", "2024-03-08 13:15:00"],
            ["#1005", "refunded", "EUR", "2024-03-09 11:00:00"],
        ]
        # a line without a SKU is known by its name
        assert "Canvas tote" in set(wh.query("SELECT product_id FROM products").product_id)

    def test_revenue_is_the_totals_of_the_sales_to_the_cent(self, loaded, tmp_path):
        """One definition of revenue: an order is worth its Total (after the discount, with shipping and
        taxes) less what was refunded, not its lines; the summary's money shows that read and loaded."""
        wh, r = loaded
        file_total = sum(Decimal(o["Total"]) - Decimal(o.get("Refunded Amount") or "0") for o, _ in SHOPIFY_ORDERS)
        paid = r.money["orders"]["paid_amount"]
        assert paid.read == paid.loaded == file_total
        k = kpis(wh)
        assert Decimal(str(k["revenue"])).quantize(Decimal("0.01")) == SHOPIFY_REVENUE
        assert k["orders"] == 2 and k["cancellations"] == 2  # #1002 cancelled, #1005 refunded
        lines = sum(Decimal(p) * int(q) for o, ls in SHOPIFY_ORDERS[:1] for q, _, p, _ in ls)
        assert lines == Decimal("59.85") and lines != Decimal(SHOPIFY_ORDERS[0][0]["Total"])  # the lines differ
        per_customer = {c: round(v, 2) for c, v in wh.query(
            f"SELECT customer_id, net_revenue FROM ({customer_value_sql()})").values.tolist()}
        assert sorted(per_customer.values()) == [58.76, 67.58]  # Ana's pending order and Carla's refunds add nothing
        html = build_shop_report(wh).to_html()
        assert "126.34" in html and "EUR" in html

    def test_consent_is_what_accepts_marketing_says(self, loaded):
        wh, r = loaded
        check = allowed(wh, ["ana.lima@example.com", "bo.chen@example.com", "carla@example.com"], "marketing")
        # Ana's last order says yes (both say yes); Bo said no
        assert sorted(check.allowed) == ["ana.lima@example.com", "carla@example.com"]
        assert check.refused == ["bo.chen@example.com"]
        assert not any("marketing consent" in n for n in r.notes)

    def test_no_raw_personal_data_at_rest(self, loaded):
        wh, _ = loaded
        text = "\n".join(_all_text_at_rest(wh))
        assert [p for p in SHOPIFY_PII if p in text] == []

    def test_again_is_all_duplicates(self, loaded, tmp_path):
        wh, _ = loaded
        r = ingest(wh, [tmp_path / "orders_export_1.csv"], preset="shopify-orders")
        assert (r.loaded, r.updated, r.duplicates) == (0, 0, r.read)
        assert all(c.loaded == c.updated == 0 for c in r.derived.values())


class TestTaobao:
    @pytest.fixture()
    def loaded(self, tmp_wh, tmp_path):
        orders, items = taobao_reports(tmp_path)
        assert b"\r\n" in orders.read_bytes() and b'="3312345678901234567"' in orders.read_bytes()
        r_orders = ingest(tmp_wh, [orders], preset="taobao-orders")
        r_items = ingest(tmp_wh, [items], preset="taobao-items")
        return tmp_wh, r_orders, r_items

    def test_counts_add_up(self, loaded):
        wh, ro, ri = loaded
        assert (ro.table, ro.read, ro.loaded, ro.quarantined) == ("orders", 3, 3, 0)
        assert ro.derived["customers"].loaded == 2
        assert (ri.table, ri.read, ri.loaded, ri.quarantined) == ("order_items", 4, 3, 1)
        assert all(_adds_up(c) for c in [ro, ri, *ro.derived.values(), *ri.derived.values()])
        assert any("decoded" in n for n in ro.notes)
        assert not list(wh.tmp_dir.glob("__stage_*"))  # the decoded copies (personal data) are gone
        reason = wh.query("SELECT reason FROM _quarantine WHERE table_name = 'order_items'").reason.tolist()
        assert reason == ["order_id '3312345678901234999' not found in orders"]

    def test_order_numbers_stay_exact_text(self, loaded):
        wh, _, _ = loaded
        ids = sorted(wh.query("SELECT DISTINCT order_id FROM order_items").order_id)
        assert ids == ["3312345678901234567", "3312345678901234568", "3312345678901234569"]
        assert sorted(wh.query("SELECT order_id FROM orders").order_id) == ids
        assert "TX-001" in set(wh.query("SELECT product_id FROM products").product_id)

    def test_totals_are_what_the_buyer_paid_to_the_cent(self, loaded):
        wh, _, _ = loaded
        got = {o: Decimal(str(t)).quantize(Decimal("0.01"))
               for o, t in wh.query("SELECT order_id, total_amount FROM orders").values.tolist()}
        assert got == {o[0]: Decimal(o[4]) for o in TAOBAO_ORDERS}  # after the shop coupon, not the item prices
        assert set(wh.query("SELECT currency FROM orders").currency) == {"CNY"}
        # revenue is what the buyers paid for the orders that are sales (not the items' list prices;
        # the closed order adds nothing)
        paid = {o[0]: Decimal(o[4]) for o in TAOBAO_ORDERS if o[5] != "交易关闭"}
        assert Decimal(str(kpis(wh)["revenue"])).quantize(Decimal("0.01")) == sum(paid.values())

    def test_the_reports_fill_the_shops_currency_and_time_zone(self, loaded, tmp_path):
        wh, ro, ri = loaded
        shop = read_shop(wh)
        assert (shop.currency, shop.timezone) == ("CNY", "Asia/Shanghai")  # hours and months in Beijing time
        assert any("shop settings from this export: currency CNY and timezone Asia/Shanghai" in n for n in ro.notes)
        assert not any("shop settings" in n for n in ri.notes)  # already set: nothing to say
        # a shop's own choice is never replaced by an export's
        set_shop(wh, timezone="Asia/Hong_Kong")
        orders, _ = taobao_reports(tmp_path)
        again = ingest(wh, [orders], preset="taobao-orders")
        assert read_shop(wh).timezone == "Asia/Hong_Kong" and not any("shop settings" in n for n in again.notes)

    def test_closed_orders_are_cancelled_and_times_are_beijing(self, loaded):
        wh, _, _ = loaded
        rows = wh.query("SELECT order_id, status, strftime(ordered_at, '%Y-%m-%d %H:%M:%S') AS t "
                        "FROM orders ORDER BY order_id").values.tolist()
        assert rows == [["3312345678901234567", "completed", "2024-03-05 02:00:00"],
                        ["3312345678901234568", "cancelled", "2024-03-05 15:30:00"],
                        ["3312345678901234569", "shipped", "2024-03-06 00:01:02"]]

    def test_no_consent_column_means_not_marketable_and_the_summary_says_so(self, loaded):
        wh, ro, _ = loaded
        assert any("no marketing consent column" in n for n in ro.notes)
        check = allowed(wh, ["tb_小明2019", "买家阿花"], "marketing")
        assert check.allowed == [] and sorted(check.refused + check.unknown) == sorted(["tb_小明2019", "买家阿花"])

    def test_no_raw_personal_data_at_rest(self, loaded):
        wh, _, _ = loaded
        text = "\n".join(_all_text_at_rest(wh))
        assert [p for p in TAOBAO_PII if p in text] == []
