"""The web UI: server-rendered Jinja2 pages under `/ui/`, Arabic first (RTL), English with `?lang=en`.

Pages call the same functions as the API handlers (`build_query`/`run_search`, `entity_profile`,
`WatchManager`, `alert_feed`); forms post back and redirect (no client framework, no build step).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from pipeline.alerts.manage import validate_watch
from pipeline.api.access import COOKIE, can_change, key_matches, presented_key, safe_next
from pipeline.api.alerts import alert_feed, sse_stream
from pipeline.api.articles import get_article
from pipeline.api.entities import entity_profile
from pipeline.api.errors import ApiError, route_path
from pipeline.api.search import SearchParams, build_query, run_search
from pipeline.api.services import Services, services
from pipeline.errors import ConfigError, InvalidQuery
from pipeline.models import Alert, Article
from pipeline.web import i18n
from pipeline.web.i18n import Lang
from pipeline.web.render import article_url, entity_url, highlight, paragraphs, timeline_svg, web_href

__all__ = ["FORM_LIMIT", "LANG_COOKIE", "router", "templates", "ui_error"]

LANG_COOKIE = "rasd_lang"
PAGE_SIZE = 10
FORM_LIMIT = 65536  # bytes of a form post; the login form is open to everyone, so never read more
_FILTERS = ("entity", "topic", "source", "language")

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(
    article_url=article_url,
    entity_url=entity_url,
    highlight=highlight,
    timeline_svg=timeline_svg,
    web_href=web_href,
)
templates.env.filters["todate"] = date.fromisoformat

Svc = Annotated[Services, Depends(services)]


def _lang(request: Request) -> Lang:
    return i18n.pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the request's language; `?lang=` also sets the cookie."""
    lang = _lang(request)
    other: Lang = "en" if lang == "ar" else "ar"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    svc: Services = request.app.state.services
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "dir": i18n.direction(lang),
            "t": lambda key: i18n.t(key, lang),
            "num": lambda n: i18n.fmt_num(n, lang),
            "day": lambda d: i18n.fmt_date(d, lang),
            "when": lambda d: i18n.fmt_datetime(d, lang),
            "type_label": lambda ty: i18n.t(f"type.{ty}", lang) if ty in ("PER", "ORG", "LOC") else ty,
            "topic_label": lambda tid: _topic_label(svc, tid, lang),
            "source_label": lambda sid: source_label(svc, sid, lang),
            "toggle_url": request.url.path + "?" + urlencode([*query, ("lang", other)]),
            "changes": _changes(request),
            "login_url": _login_url(_here(request)),
            **context,
        },
        status_code=status,
    )
    if request.query_params.get("lang") in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _changes(request: Request) -> Literal["on", "login", "off"]:
    """Whether this visitor may change watches ("on"), could after signing in, or never ("off"):
    the forms are shown only when they can work."""
    policy = request.app.state.access
    if can_change(policy, presented_key(request.headers)):
        return "on"
    return "off" if policy.key is None else "login"


def _here(request: Request) -> str:
    query = request.scope.get("query_string", b"").decode("latin-1")
    return route_path(request.scope) + (f"?{query}" if query else "")


def _login_url(next_url: str) -> str:
    return "/ui/login?next=" + quote(safe_next(next_url))


def ui_error(request: Request, status: int, message: str) -> Response:
    """What a /ui/ request that failed or was refused gets: an HTML page, or the login page when a
    key would let it through (a refused form post goes back to the page it was sent from)."""
    if status != 401:
        return _error_page(request, status, message)
    if request.method.upper() in ("GET", "HEAD"):
        return RedirectResponse(_login_url(_here(request)), status_code=303)
    referer = urlsplit(request.headers.get("referer", ""))
    back = referer.path + (f"?{referer.query}" if referer.query else "")
    same_site = referer.netloc == request.headers.get("host") and back.startswith("/ui/")
    return RedirectResponse(_login_url(back if same_site else "/ui/search"), status_code=303)


def _topic_label(svc: Services, topic_id: str, lang: Lang) -> str:
    topic = svc.topics.get(topic_id)
    if topic is None:
        return topic_id
    return topic.label_ar if lang == "ar" else topic.label_en


def source_label(svc: Services, source: str, lang: Lang) -> str:
    """A feed's name in the page language: `Al Jazeera Arabic (الجزيرة نت)` → `الجزيرة نت` in Arabic.

    Showing one script at a time keeps the parentheses of mixed names from being reordered in RTL.
    """
    name = svc.feed_names.get(source, "")
    latin, _, rest = name.partition("(")
    native = rest.rstrip(")").strip()
    if lang == "ar" and native and any("\u0600" <= c <= "\u06ff" for c in native):
        return native
    return latin.strip() or source


def _error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return _page(request, "error.html", status=status, status_code=status, message=message)


# -- search ------------------------------------------------------------------------------------


def _search_params(request: Request) -> SearchParams:
    qp = request.query_params
    sort: Literal["relevance", "newest"] = "newest" if qp.get("sort") == "newest" else "relevance"
    try:
        page = int(i18n.to_western(qp.get("page", "1")))
    except ValueError:
        page = 1
    return SearchParams(
        q=qp.get("q", "")[:1000],
        entity=qp.getlist("entity"),
        topic=qp.getlist("topic"),
        source=qp.getlist("source"),
        language=qp.getlist("language"),
        since=i18n.to_western(qp.get("since", "")),
        until=i18n.to_western(qp.get("until", "")),
        sort=sort,
        page=max(1, page),
        size=PAGE_SIZE,
    )


def _url(params: SearchParams, **changes: Any) -> str:
    """The search page URL for `params` with some values changed (a filter added or removed, a page)."""
    values: dict[str, Any] = {
        "q": params.q,
        **{name: list(getattr(params, name)) for name in _FILTERS},
        "since": params.since,
        "until": params.until,
        "sort": params.sort,
        "page": 1,
    }
    values.update(changes)
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        if (key, value) in (("sort", "relevance"), ("page", 1)):
            continue
        for v in value if isinstance(value, list) else [value]:
            if v not in ("", None):
                pairs.append((key, str(v)))
    return "/ui/search" + ("?" + urlencode(pairs) if pairs else "")


def _toggle(params: SearchParams, name: str, value: str) -> str:
    current: list[str] = list(getattr(params, name))
    updated = [v for v in current if v != value] if value in current else [*current, value]
    return _url(params, **{name: updated})


def _fragments(highlights: dict[str, list[str]]) -> list[str]:
    """Up to two distinct summary/body fragments (feeds often repeat the summary in the body)."""
    seen: list[str] = []
    for field in ("summary", "body"):
        for frag in highlights.get(field, []):
            if frag not in seen:
                seen.append(frag)
    return seen[:2]


def _top_entities(article: Article, limit: int = 6) -> list[tuple[str, str, str]]:
    counts = Counter((m.canonical_id, m.canonical_name, m.type) for m in article.entities)
    return [key for key, _ in counts.most_common(limit)]


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def ui_home() -> RedirectResponse:
    """`/ui/` is the address the CLI and the deployment notes print: the UI starts at its search page."""
    return RedirectResponse("/ui/search", status_code=307)


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, svc: Svc) -> HTMLResponse:
    params = _search_params(request)
    error = ""
    result = None
    status = 200
    try:
        query = build_query(svc, params)
        result = await run_search(svc, query)
    except (ApiError, InvalidQuery, ConfigError) as exc:
        error, status = (exc.message if isinstance(exc, ApiError) else str(exc)), 400
    entity_names = {}
    for value in params.entity:
        ent = svc.registry.resolve(value)
        entity_names[value] = ent.name_ar if ent else value
    hits = []
    if result is not None:
        for h in result.hits:
            hits.append(
                {
                    "article": h.article,
                    "title": highlight(h.highlights["title"][0])
                    if h.highlights.get("title")
                    else h.article.title,
                    "fragments": [highlight(f) for f in _fragments(h.highlights)],
                    "entities": _top_entities(h.article),
                }
            )
    pages = math.ceil(result.total / PAGE_SIZE) if result else 0
    return _page(
        request,
        "search.html",
        status=status,
        params=params,
        error=error,
        result=result,
        hits=hits,
        pages=pages,
        entity_names=entity_names,
        url=lambda **kw: _url(params, **kw),
        toggle=lambda name, value: _toggle(params, name, value),
        filters=_FILTERS,
    )


# -- articles and entities ------------------------------------------------------------------------


@router.get("/articles/{article_id:path}", response_class=HTMLResponse)
async def article_page(request: Request, article_id: str, svc: Svc) -> HTMLResponse:
    try:
        article = await get_article(svc, article_id)
    except ApiError as exc:
        return _error_page(request, exc.status, exc.message)
    fields = {
        f: paragraphs(article.text_of(f), [m for m in article.entities if m.field == f])
        for f in ("title", "summary", "body")
    }
    counts = Counter((m.canonical_id, m.canonical_name, m.type) for m in article.entities)
    by_type: dict[str, list[tuple[str, str, int]]] = {}
    for (eid, name, etype), n in counts.most_common():
        by_type.setdefault(etype, []).append((eid, name, n))
    return _page(request, "article.html", article=article, fields=fields, by_type=by_type)


def entity_watch_id(entity_id: str) -> str:
    """The id of the one-click watch of an entity: `entity-Q7747`, hashed for ids that are not plain."""
    candidate = f"entity-{entity_id}"
    if all(c.isascii() and (c.isalnum() or c in "_.-") for c in candidate) and len(candidate) <= 64:
        return candidate
    return "entity-" + hashlib.blake2b(entity_id.encode(), digest_size=6).hexdigest()


def _watching(svc: Services, entity_id: str) -> str | None:
    """The id of a watch in force whose any_of names this entity, if there is one."""
    manager = svc.watches()
    for entry in manager.in_force():
        for name in entry.watch.any_of.entities:
            ent = svc.registry.resolve(name)
            if (ent.id if ent else name) == entity_id:
                return entry.watch.id
    return None


@router.get("/entities/{entity_id:path}", response_class=HTMLResponse)
async def entity_page(request: Request, entity_id: str, svc: Svc) -> HTMLResponse:
    try:
        profile = await entity_profile(svc, entity_id)
    except ApiError as exc:
        return _error_page(request, exc.status, exc.message)
    return _page(
        request,
        "entity.html",
        entity=profile,
        watch_id=_watching(svc, profile.id),
        search_url=_url(SearchParams(entity=[profile.id]), sort="newest"),
    )


async def _form(request: Request, limit: int = FORM_LIMIT) -> dict[str, str] | None:
    """The posted form's fields; None when the body is over `limit` bytes (read no further).

    Cross-site posts never get here: the access middleware refuses them for every unsafe method.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    text = body.decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def _too_large(request: Request) -> HTMLResponse:
    return _error_page(request, 413, f"the form is larger than {FORM_LIMIT // 1024} KiB")


@router.post("/entities/{entity_id:path}/watch")
async def watch_entity(request: Request, entity_id: str, svc: Svc) -> Response:
    """The one-click watch: fire on every article that mentions the entity.

    Only registry entities can be watched (the watch catalogue knows no `u:…` names): their pages
    show no button, and a post for one is refused with a hint."""
    ent = svc.registry.resolve(entity_id)
    if ent is None:
        message = f"{entity_id!r} is not in the entity registry: watch its name as words instead"
        return _watches_page(request, svc, status=400, error=message)
    watch_id = _watching(svc, ent.id)
    if watch_id is None:
        watch_id = entity_watch_id(ent.id)
        try:
            data = {"id": watch_id, "name": ent.name_ar, "owner": "web", "entities": [entity_id]}
            watch = validate_watch(data)
            svc.watches().add(watch, replace=True)
        except ConfigError as exc:
            return _error_page(request, 400, str(exc))
    return RedirectResponse(f"/ui/watches?created={watch_id}", status_code=303)


# -- alerts ------------------------------------------------------------------------------------------


def _alert_html(request: Request, alert: Alert, lang: Lang, svc: Services) -> str:
    template = templates.env.get_template("_alert.html")
    return template.render(
        alert=alert,
        lang=lang,
        t=lambda key: i18n.t(key, lang),
        when=lambda d: i18n.fmt_datetime(d, lang),
        num=lambda n: i18n.fmt_num(n, lang),
        source_label=lambda sid: source_label(svc, sid, lang),
    )


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, svc: Svc) -> HTMLResponse:
    lang = _lang(request)
    recent = svc.alerts.recent(limit=50)
    rendered = [_alert_html(request, a, lang, svc) for a in recent]
    return _page(request, "alerts.html", alerts=rendered, last_id=recent[0].id if recent else "")


@router.get("/alerts/live")
async def alerts_live(request: Request, svc: Svc) -> Response:
    """Server-sent events: each new alert as an HTML fragment, rendered like the page's list."""
    lang = _lang(request)
    last = request.headers.get("last-event-id") or request.query_params.get("after") or None
    feed = alert_feed(svc, last_event_id=last, lifetime_s=300.0)
    return sse_stream(request, feed, lambda a: _alert_html(request, a, lang, svc))


# -- watches ----------------------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("،", ",").replace("\n", ",").split(",") if part.strip()]


def _watches_page(request: Request, svc: Services, status: int = 200, **context: Any) -> HTMLResponse:
    manager = svc.watches()
    rows = [manager.describe(e) for e in manager.in_force()]
    topics = sorted(svc.topics.values(), key=lambda td: td.id)
    return _page(
        request,
        "watches.html",
        status=status,
        watches=rows,
        topics=topics,
        created=request.query_params.get("created", ""),
        **{"error": "", "form": {}, **context},
    )


@router.get("/watches", response_class=HTMLResponse)
def watches_page(request: Request, svc: Svc) -> HTMLResponse:
    return _watches_page(request, svc)


@router.post("/watches")
async def create_watch(request: Request, svc: Svc) -> Response:
    form = await _form(request)
    if form is None:
        return _too_large(request)
    data: dict[str, Any] = {
        "id": form.get("id", "").strip(),
        "name": form.get("name", "").strip(),
        "owner": "web",
    }
    for key in ("entities", "words"):
        if values := _split(form.get(key, "")):
            data[key] = values
    if topic := form.get("topic", "").strip():
        data["topics"] = [topic]
    try:
        watch = validate_watch(data)
        manager = svc.watches()
        if any(e.watch.id == watch.id for e in manager.in_force()):
            raise ConfigError(f"watch {watch.id!r} already exists")
        manager.add(watch)
    except ConfigError as exc:
        return _watches_page(request, svc, status=400, error=" ".join(str(exc).split()), form=form)
    return RedirectResponse(f"/ui/watches?created={watch.id}", status_code=303)


@router.post("/watches/{watch_id}/{action}")
async def change_watch(request: Request, watch_id: str, action: str, svc: Svc) -> Response:
    manager = svc.watches()
    try:
        if action in ("pause", "resume"):
            manager.set_paused(watch_id, paused=action == "pause")
        elif action == "delete":
            manager.remove(watch_id)
        else:
            return _error_page(request, 404, f"unknown action {action!r}")
    except ConfigError as exc:
        return _watches_page(request, svc, status=404, error=str(exc))
    return RedirectResponse("/ui/watches", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui/search") -> HTMLResponse:
    return _page(request, "login.html", next=safe_next(next), wrong=False)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the typed key and keep it in an HttpOnly cookie, so the UI's requests carry it."""
    form = await _form(request)
    if form is None:
        return _too_large(request)
    next_url = safe_next(form.get("next", "/ui/search"))
    policy = request.app.state.access
    if not key_matches(policy, form.get("key", "")):
        return _page(request, "login.html", status=401, next=next_url, wrong=True)
    response = RedirectResponse(next_url, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(COOKIE, form["key"], httponly=True, samesite="strict", secure=secure)
    return response
