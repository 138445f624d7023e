import pytest

from nlp.privacy import contains_pii, mask_pii


@pytest.mark.parametrize("text, expected", [
    ("我的手机13912345678请联系", "我的手机139****5678请联系"),
    ("电话139-1234-5678", "电话139****5678"),
    ("+86 139 1234 5678", "139****5678"),
    ("身份证号360402199001011234", "身份证号3604**********1234"),
    ("身份证36040219900101123X。", "身份证3604**********123X。"),
    ("座机0792-8123456", "座机0792-****3456"),
    ("北京010-65123456转", "北京010-****3456转"),
    ("(0792)8123456", "0792-****3456"),
    ("邮箱zhang.san@example.com，谢谢", "邮箱z***@example.com，谢谢"),
    ("银行卡6222021234567890123", "银行卡6222***********0123"),
    ("卡号 6222 0212 3456 7890", "卡号 6222********7890"),
    ("信用卡4111111111111111", "信用卡4111********1111"),
])
def test_masks_personal_data(text, expected):
    assert mask_pii(text) == expected
    assert contains_pii(text)


@pytest.mark.parametrize("text", [
    "2024-05-01 12:30:45 发布",
    "20240501",
    "2024年5月1日上午10:30",
    "涉案金额1,234,567.89元",
    "补偿款13000000元",
    "帖子 weibo:4231265311393455",
    "https://weibo.com/1234567890/4231265311393455",
    "订单号1234567890123456",
    "拨打12345热线或400-800-1234",
    "时间戳1715000000000",
    "第2024050112号通报",
    "",
])
def test_leaves_dates_money_ids_and_hotlines(text):
    assert mask_pii(text) == text
    assert not contains_pii(text)


def test_masks_several_items_in_one_text():
    text = "张先生13912345678，身份证360402199001011234，邮箱a@b.cn"
    masked = mask_pii(text)
    assert "13912345678" not in masked and "199001011234" not in masked and "a@b.cn" not in masked
    assert masked.startswith("张先生139****5678")
