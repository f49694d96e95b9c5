"""Signed URLs lose their credentials wherever a URL is written: the call log, job logs,
prompt files, error messages and the viewer."""

from __future__ import annotations

import json

from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture
from test_dashscope_video import ctx_of, ep_fixture, spec_of  # noqa: F401 - fixture

from spark_video.base.redaction import make_redactor, redact
from spark_video.providers import get_provider
from spark_video.providers.base import ProviderError

RESULT_URL = ("https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/1d/ab/20261207/"
              "c0ffee.mp4?Expires=1796772600&OSSAccessKeyId=LTAI5tQZd8AoCkW2jv9Yq7Ab"
              "&Signature=Zk3q%2B9vYqA0bR1x5%2FdJm7sT2eU4%3D"
              "&security-token=CAIS8QF1q6Ft5B2yfSjIr5bSEsnZ3ZZm1qCkbxTWqVE")
UPLOAD_FORM = ("https://dashscope-file-mgr.oss-cn-beijing.aliyuncs.com/?OSSAccessKeyId="
               "LTAI5tQZd8AoCkW2jv9Yq7Ab&Signature=kOq1%2Fs9Y0vB7mQ%3D&x-oss-object-acl=private"
               "&x-oss-forbid-overwrite=true&x-oss-security-token=CAIS8QF1q6Ft5B2yfSj"
               "&policy=eyJleHBpcmF0aW9uIjoi")
POLICY_JSON = json.dumps({"data": {"policy": "eyJleHBpcmF0aW9uIjoiMjAyNi0xMi0wN1Qx",
                                   "signature": "kOq1/s9Y0vB7mQ=",
                                   "oss_access_key_id": "LTAI5tQZd8AoCkW2jv9Yq7Ab",
                                   "upload_dir": "dashscope-instant/abc/2026-12-07/x1",
                                   "upload_host": "https://dashscope-file-mgr.oss-cn-"
                                                  "beijing.aliyuncs.com"}})
SECRETS = ("LTAI5tQZd8AoCkW2jv9Yq7Ab", "Zk3q", "kOq1", "CAIS8QF1q6Ft5B2yfSj", "1796772600",
           "eyJleHBpcmF0aW9uIjoiMjAyNi0xMi0wN1Qx")


def clean(text: str) -> None:
    for s in SECRETS:
        assert s not in text, (s, text)


def test_signed_result_url_and_upload_policy_are_masked():
    r = redact(RESULT_URL)
    clean(r)
    assert r.startswith("https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/1d/ab/")
    assert "Signature=***" in r and "Expires=***" in r and "security-token=***" in r
    u = redact(UPLOAD_FORM)
    clean(u)
    assert "x-oss-object-acl=***" in u
    p = redact(POLICY_JSON)
    clean(p)
    assert "dashscope-instant/abc/2026-12-07/x1" in p  # where it went stays readable
    assert redact("https://example.com/a.mp4?page=2&size=3") == \
        "https://example.com/a.mp4?page=2&size=3"
    html = f'<a href="{RESULT_URL.replace("&", "&amp;")}">clip</a>'
    clean(make_redactor()(html))  # the viewer's escaped form


def test_call_log_and_errors_mask_signed_urls(fake_dashscope, ep):
    ctx = ctx_of(ep)
    ctx.record(provider="bl", model="m", endpoint="x", status="error",
               error=f"download of {RESULT_URL} failed", prompt=f"see {UPLOAD_FORM}")
    clean(ep.model_calls.read_text())
    clean(str(ProviderError(f"bad {RESULT_URL}")))


def test_a_real_render_leaves_no_signature_in_the_episode(fake_dashscope, ep):
    ctx = ctx_of(ep)
    get_provider("video", ctx.cfg).render(ctx, spec_of(), "ok", ep.clip_version("S01-001", 1),
                                          first_frame=None, media=[])
    for f in ep.root.rglob("*"):
        if f.is_file() and f.suffix in (".jsonl", ".json", ".md", ".log", ".txt", ".html"):
            assert "Signature=" not in f.read_text(errors="replace") or \
                "Signature=***" in f.read_text(errors="replace")


def test_job_log_masks_signed_urls(tmp_path):
    from spark_video.workflow.jobs import Job

    j = Job.__new__(Job)
    log = tmp_path / "job.log"
    j._log = open(log, "a", encoding="utf-8")
    j.log(f"fetched {RESULT_URL}")
    j._log.close()
    clean(log.read_text())
