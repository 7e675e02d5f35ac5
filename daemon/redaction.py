"""The credentials a configuration holds, so the log can never print them.

:func:`configured_secrets` lists them; the runtime hands them to
:func:`daemon.logs.hide_secrets` at start and on every reload, and from then on every
log line (JSON or console) shows ``***`` where one of them would have been — whichever
code logged it, however it got there (an exception text, a URL, a header dump).

What counts as a credential:

* the password of ``storage.url`` and of ``redis.url``;
* in ``alerts.webhook.url``: its password, every query value, and every path segment of
  at least 8 characters (chat webhooks carry their token in the path);
* every value of ``alerts.webhook.headers``, and the token part of ``Scheme token``
  values (``Bearer abc...``).

Values shorter than :data:`daemon.logs.MIN_SECRET_LEN` are not searched for.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

from config.settings import Settings

_MIN_PATH_TOKEN = 8


def configured_secrets(settings: Settings) -> list[str]:
    """Every credential in ``settings`` (see the module docstring), unquoted and quoted."""
    found: list[str] = []
    found += _url_password(settings.storage.url)
    found += _url_password(settings.redis.url)
    hook = settings.alerts.webhook
    if hook.url:
        found += _url_password(hook.url)
        parts = urlsplit(hook.url)
        found += [v for _, v in parse_qsl(parts.query, keep_blank_values=False)]
        found += [unquote(seg) for seg in parts.path.split("/") if len(seg) >= _MIN_PATH_TOKEN]
    for value in hook.headers.values():
        found.append(value)
        _, sep, token = value.partition(" ")
        if sep and token.strip():
            found.append(token.strip())
    out: list[str] = []
    for secret in found:
        for form in (secret, _quoted(secret)):
            if form and form not in out:
                out.append(form)
    return out


def _url_password(url: str) -> list[str]:
    if not url:
        return []
    try:
        password = urlsplit(url).password
    except ValueError:  # a malformed URL: the configuration loader reports it
        return []
    return [unquote(password)] if password else []


def _quoted(secret: str) -> str:
    return quote(secret, safe="")
