"""Secret redaction, one rule for every log line, error message and page we write.

Masked with `***`:
- the values of the provider key variables (DASHSCOPE_API_KEY, OPENAI_API_KEY), 4+ chars;
- the values of any other variable whose name says KEY/TOKEN/SECRET/PASSWORD, 12+ chars
  (shorter values would mask ordinary words);
- anything shaped like an API key (`sk-…`) or a bearer token, even when it is not in the
  environment (a key pasted into a prompt or a premise);
- the credentials in a signed URL's query (result URLs, upload policies): the values of
  `Signature`, `OSSAccessKeyId`, `Expires`, `security-token` and every `x-oss-*` /
  `x-amz-*` parameter, so a logged URL shows where it pointed but cannot be replayed; and
  the same names as JSON fields (an upload policy's `signature`, `policy`,
  `oss_access_key_id`, `security_token`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

MASK = "***"
SECRET_ENV_VARS = ("DASHSCOPE_API_KEY", "OPENAI_API_KEY")
SECRET_NAME_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)", re.I)
SIGNED_QUERY_NAMES = r"(?:Signature|OSSAccessKeyId|Expires|security-token|SecurityToken" \
    r"|x-oss-[A-Za-z0-9-]+|x-amz-[A-Za-z0-9-]+|AccessKeyId)"
SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"),
)
# (pattern, replacement) pairs that keep the name and mask only the value
VALUE_PATTERNS = (
    (re.compile(rf"(?i)([?&](?:amp;)?{SIGNED_QUERY_NAMES}=)[^&#\s\"'<>]*"), rf"\1{MASK}"),
    (re.compile(r'(?i)("(?:signature|policy|oss_access_key_id|security_token|'
                r'OSSAccessKeyId|x-oss-security-token)"\s*:\s*")[^"]*(")'), rf"\1{MASK}\2"),
)


def secret_values() -> list[str]:
    """Values of secret environment variables (only so they can be masked), longest first."""
    found = {v for k in SECRET_ENV_VARS if len(v := os.environ.get(k, "")) >= 4}
    found |= {v for k, v in os.environ.items() if SECRET_NAME_RE.search(k) and len(v) >= 12}
    return sorted(found, key=len, reverse=True)


def make_redactor() -> Callable[[str], str]:
    """A redactor that reads the environment once (for pages with many strings)."""
    values = secret_values()

    def redact_text(text: str) -> str:
        for v in values:
            if v in text:
                text = text.replace(v, MASK)
        for pat in SECRET_PATTERNS:
            text = pat.sub(MASK, text)
        for pat, repl in VALUE_PATTERNS:
            text = pat.sub(repl, text)
        return text

    return redact_text


def redact(text: str | None) -> str | None:
    """`text` with every secret masked (None and "" pass through)."""
    if not text:
        return text
    return make_redactor()(text)
