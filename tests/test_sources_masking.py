"""mask_secrets: an allow-list for URLs (user information, settings after ? and ;)."""

from __future__ import annotations

import pytest

from ppxlib.sources import mask_secrets

PRESIGNED = ("https://shop.s3.eu-west-1.amazonaws.com/orders.parquet?X-Amz-Algorithm=AWS4-HMAC"
             "-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20261101%2Feu-west-1%2Fs3%2Faws4_request"
             "&X-Amz-Date=20261101T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=FwoGZXIv"
             "&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")


@pytest.mark.parametrize("text, secrets", [
    (PRESIGNED, ["AKIAEXAMPLE", "FwoGZXIv", "5d672d79c15b"]),
    ("postgres://:pw0rd@db/shop", ["pw0rd"]),
    ("postgres://ann:s3cret@db:5432/shop", ["s3cret"]),
    ("https://ghp_T0KEN@github.com/x.csv", ["ghp_T0KEN"]),
    ("https://acct.blob.core.windows.net/c/o.csv?sv=2022-11-02&sig=AbC%2Bd", ["AbC%2Bd"]),
    ('bigquery://proj/ds?credentials_info={"private_key":"KEYDATA"}', ["KEYDATA"]),
    ("mysql://h/db?pass=hunter2", ["hunter2"]),
    ("jdbc:sqlserver://h:1433;databaseName=shop;password=hunter2", ["hunter2"]),
    ("sc://spark:15002/;token=T0K;user_id=ann", ["T0K"]),
    ("snowflake://u:p4ss@acct/db?warehouse=w&authenticator=oauth&made_up_setting=zz", ["p4ss",
                                                                                       "zz"]),
    ("cannot open 'postgres://u:hunter2@h/x': connection refused", ["hunter2"]),
    ("/data/shop_password=HUNTER2", ["HUNTER2"]),
    ("error: sig=abc123 pass=hunter2 credentials_info=xyz", ["abc123", "hunter2", "xyz"]),
])
def test_every_secret_is_masked(text, secrets):
    masked = mask_secrets(text)
    for secret in secrets:
        assert secret not in masked, (text, masked)
    assert "***" in masked


def test_harmless_parts_stay_readable():
    assert mask_secrets("postgres://ann:pw@db:5432/shop?sslmode=require&schema=retail") == (
        "postgres://ann:***@db:5432/shop?sslmode=require&schema=retail")
    assert mask_secrets("snowflake://u:p@acct/db?warehouse=w&role=r") == (
        "snowflake://u:***@acct/db?warehouse=w&role=r")
    assert mask_secrets(PRESIGNED).startswith(
        "https://shop.s3.eu-west-1.amazonaws.com/orders.parquet?X-Amz-Algorithm=***")
    assert mask_secrets("/data/shops/amount=0/orders.csv") == "/data/shops/amount=0/orders.csv"
    assert mask_secrets("sc://spark:15002") == "sc://spark:15002"
    assert mask_secrets("spark:local[2]") == "spark:local[2]"
