"""Build the bundled demo shop from the real data sets in ../shared/data.

    python scripts/build_demo_data.py --data-dir ../shared/data

Writes src/shoplens/datasets/demo/. Seeded: the same inputs give the same files.
See SOURCE.md there for what is real and what is assigned.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "src" / "shoplens" / "datasets" / "demo"
FIRST = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Jack", "Harry", "Oliver", "George", "Noah", "Sophie", "Emily",
         "James", "Thomas", "Lucy", "Grace", "Daniel", "Hannah", "Samuel", "Chloe", "Lukas", "Marie", "Pierre", "Sofia"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
        "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke"]
ZH_NAMES = ["王芳", "李娜", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄丽", "周杰", "吴婷", "徐强", "孙悦"]


def _keep(customer_id: str, share: float) -> bool:
    h = int(hashlib.sha256(f"demo:{customer_id}".encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def build(data_dir: Path, customer_share: float, guest_share: float, n_en: int, n_zh: int, n_support: int) -> None:
    rng = np.random.default_rng(20111209)
    OUT.mkdir(parents=True, exist_ok=True)
    retail = pd.read_csv(data_dir / "online_retail" / "online_retail.csv.gz", dtype=str, keep_default_na=False)
    has_cust = retail["CustomerID"] != ""
    keep_cust = retail["CustomerID"].map(lambda c: c != "" and _keep(c, customer_share))
    guest_invoices = retail.loc[~has_cust, "InvoiceNo"].drop_duplicates()
    guest_keep = set(guest_invoices.sample(frac=guest_share, random_state=7))
    sample = retail[keep_cust | (~has_cust & retail["InvoiceNo"].isin(guest_keep))]
    with gzip.open(OUT / "online_retail_sample.csv.gz", "wt", encoding="utf-8", newline="") as fh:
        sample.to_csv(fh, index=False)
    print("online retail rows", len(sample), "customers", sample.loc[sample.CustomerID != "", "CustomerID"].nunique())

    # customers: real ids and countries; names, e-mails, phones and consents are synthetic (the source has none)
    cust = sample[sample.CustomerID != ""].groupby("CustomerID").agg(country=("Country", "first")).reset_index()
    n = len(cust)
    zh = rng.random(n) < 0.08
    first = rng.choice(FIRST, n)
    last = rng.choice(LAST, n)
    names = np.where(zh, rng.choice(ZH_NAMES, n), np.char.add(np.char.add(first.astype(str), " "), last.astype(str)))
    emails = [
        f"{f.lower()}.{l.lower()}{i % 97}@example.com" if not z else f"user{i}@example.cn"
        for i, (f, l, z) in enumerate(zip(first, last, zh))
    ]
    phones = [f"+44 7700 9{rng.integers(0, 100000):05d}" if not z else f"+86 139{rng.integers(0, 10**8):08d}" for z in zh]
    customers = pd.DataFrame({
        "customer_id": cust.CustomerID, "country": cust.country, "name": names, "email": emails, "phone": phones,
        "gender": rng.choice(["female", "male", "unknown"], n, p=[0.55, 0.35, 0.10]),
        "birth_year": rng.integers(1950, 2004, n),
        "language": np.where(zh, "zh", "en"),
        "consent_marketing": rng.random(n) < 0.85,
        "consent_personalization": rng.random(n) < 0.92,
    })
    customers.to_csv(OUT / "customers.csv", index=False)

    # purchases to attach texts to: (customer, product, order, date) of completed orders
    buys = sample[(sample.CustomerID != "") & ~sample.InvoiceNo.str.startswith(("C", "A"))]
    buys = buys.assign(ts=pd.to_datetime(buys.InvoiceDate))
    end = buys.ts.max()

    def attach(k: int, zh_only: bool = False) -> pd.DataFrame:
        pool = buys
        if zh_only:
            zh_ids = set(customers.customer_id[customers.language == "zh"])
            pool = buys[buys.CustomerID.isin(zh_ids)]
        rows = pool.sample(n=k, replace=len(pool) < k, random_state=int(rng.integers(1 << 30)))
        when = rows.ts + pd.to_timedelta(rng.integers(2 * 24, 20 * 24, k), unit="h")
        return pd.DataFrame({"customer_id": rows.CustomerID.values, "product_id": rows.StockCode.values,
                             "order_id": rows.InvoiceNo.values, "created_at": np.minimum(when.values, end.to_datetime64())})

    en = pd.read_csv(data_dir / "en_womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz")
    en = en.dropna(subset=["Review Text"]).sample(n=n_en, random_state=11)
    en_links = attach(n_en)
    zh_src = pd.read_csv(data_dir / "zh_online_shopping_10cats" / "online_shopping_10_cats.csv.gz").dropna(subset=["review"])
    zh_src = zh_src[zh_src.cat != "酒店"].sample(n=n_zh, random_state=12)
    zh_links = attach(n_zh, zh_only=True)
    reviews = pd.concat([
        en_links.assign(review_id=[f"R-EN-{i}" for i in en["Unnamed: 0"]], rating=en.Rating.values,
                        title=en.Title.values, text=en["Review Text"].values),
        zh_links.assign(review_id=[f"R-ZH-{i}" for i in zh_src.index], rating=pd.NA, title=pd.NA,
                        text=zh_src.review.values),
    ], ignore_index=True).sort_values("created_at")
    reviews = reviews[["review_id", "customer_id", "product_id", "order_id", "rating", "title", "text", "created_at"]]
    reviews.to_csv(OUT / "reviews.csv.gz", index=False, compression="gzip")

    bitext = pd.read_csv(data_dir / "intent_bitext_customer_service" / "train.csv.gz", dtype=str)
    bitext = bitext.sample(n=n_support, random_state=13)
    links = attach(n_support)
    support = pd.DataFrame({
        "message_id": [f"M{i:05d}" for i in range(n_support)],
        "conversation_id": [f"C{i:05d}" for i in range(n_support)],
        "customer_id": links.customer_id.values, "sender": "customer",
        "text": bitext.utterance.values, "created_at": links.created_at.values, "channel": "chat",
    }).sort_values("created_at")
    support.to_csv(OUT / "support_messages.csv.gz", index=False, compression="gzip")
    print("reviews", len(reviews), "support", len(support), "customers", len(customers))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--customer-share", type=float, default=0.25)
    ap.add_argument("--guest-share", type=float, default=0.05)
    ap.add_argument("--en-reviews", type=int, default=2500)
    ap.add_argument("--zh-reviews", type=int, default=400)
    ap.add_argument("--support", type=int, default=800)
    a = ap.parse_args()
    build(a.data_dir, a.customer_share, a.guest_share, a.en_reviews, a.zh_reviews, a.support)
