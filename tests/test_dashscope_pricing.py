"""Prices for every model we call (token tiers included), and text/review tokens in the spend
ledger so the budget cap covers them."""

from __future__ import annotations

import pytest
from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture
from test_dashscope_video import ctx_of, ep_fixture  # noqa: F401 - fixture

from spark_video.base import pricing
from spark_video.providers import budget, get_provider
from spark_video.providers.base import BudgetExceeded
from spark_video.providers.dashscope import DEFAULT_IMAGE_EDIT_MODEL, DEFAULT_IMAGE_MODEL
from spark_video.providers.openai_compat import DEFAULT_REVIEW_MODEL, DEFAULT_TEXT_MODEL


def test_tiered_token_prices():
    # qwen-plus 0.8 in / 2 out per M tokens up to 128k input
    assert pricing.token_cost("qwen-plus", {"prompt_tokens": 1_000_000 // 10,
                                            "completion_tokens": 50_000}) == pytest.approx(0.18)
    # qwen3-vl-plus 1 / 10 up to 32k input; beyond the catalog's tier: no price data
    assert pricing.token_cost("qwen3-vl-plus", {"prompt_tokens": 30_000,
                                                "completion_tokens": 1000}) == pytest.approx(0.04)
    assert pricing.token_cost("qwen3-vl-plus", {"prompt_tokens": 40_000,
                                                "completion_tokens": 1}) is None
    assert pricing.token_cost("no-such-model", {"prompt_tokens": 1}) is None


@pytest.mark.parametrize("model", [DEFAULT_TEXT_MODEL, DEFAULT_REVIEW_MODEL, "qwen3-vl-plus",
                                   DEFAULT_IMAGE_MODEL, DEFAULT_IMAGE_EDIT_MODEL,
                                   "cosyvoice-v3-flash", "qwen3-tts-flash", "wan2.7-t2v",
                                   "wan2.7-i2v", "wan2.7-r2v", "wan2.6-t2v",
                                   "happyhorse-1.0-r2v"])
def test_every_model_we_call_has_a_price(model):
    entry = pricing.price_table()[model]
    assert entry.prices, f"{model} has no price line"


def test_wan27_undated_names_are_priced():
    assert pricing.video_cost("wan2.7-t2v", "720P", 5) == pytest.approx(3.0)
    assert pricing.video_cost("wan2.7-i2v", "1080P", 5) == pytest.approx(5.0)


def test_text_tokens_count_against_the_budget(fake_dashscope, ep):
    ctx = ctx_of(ep, budget=1.0)
    text = get_provider("text", ctx.cfg)
    text.complete(ctx, role="writer", system="Be brief.", user="Say hi.")
    spent = budget.spend_so_far(ep)
    assert spent > 0  # the chat line carries a cost, the ledger counts it
    n = len(fake_dashscope.chat_calls)
    ctx = ctx_of(ep, budget=spent + 1e-6)  # no room for another call's estimate
    with pytest.raises(BudgetExceeded, match="budget reached"):
        text.complete(ctx, role="writer", system="Be brief.", user="Say hi again.")
    assert len(fake_dashscope.chat_calls) == n  # refused before sending


def test_estimate_prices_both_omni_review_calls():
    from spark_video.providers.openai_compat import review_estimate

    calls_cast, cost_cast = review_estimate("qwen3.5-omni-plus", 2)
    calls_none, cost_none = review_estimate("qwen3.5-omni-plus", 0)
    assert (calls_cast, calls_none) == (2, 1) and cost_cast > cost_none > 0
    assert review_estimate("qwen3-vl-plus", 2)[0] == 1  # a VL model: one message
    assert review_estimate("no-such-model", 0)[1] is None  # no price data
