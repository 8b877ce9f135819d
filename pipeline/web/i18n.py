"""UI strings in Arabic (default) and English, digits and dates for each language.

Arabic pages show Eastern Arabic digits (٠١٢٣٤٥٦٧٨٩) for every number and date the UI prints;
inputs accept both digit sets (`to_western`). Article text is always shown as published.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

__all__ = [
    "LANGS",
    "STRINGS",
    "Lang",
    "direction",
    "fmt_date",
    "fmt_datetime",
    "fmt_num",
    "pick_lang",
    "t",
    "to_eastern",
    "to_western",
]

Lang = Literal["ar", "en"]
LANGS: tuple[Lang, ...] = ("ar", "en")

_EASTERN = "٠١٢٣٤٥٦٧٨٩"
_TO_EASTERN = str.maketrans("0123456789", _EASTERN)
_TO_WESTERN = str.maketrans(_EASTERN + "۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)

_MONTHS_AR = (
    "يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو",
    "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر",
)  # fmt: skip
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# key -> (Arabic, English)
STRINGS: dict[str, tuple[str, str]] = {
    "app": ("رصد", "Rasd"),
    "tagline": ("رصد الأخبار العربية", "Arabic news monitor"),
    "nav.search": ("البحث", "Search"),
    "nav.alerts": ("التنبيهات", "Alerts"),
    "nav.watches": ("المراقبات", "Watches"),
    "lang.other": ("English", "العربية"),
    "search.placeholder": ('ابحث: كلمات، "عبارة"، -استبعاد، OR', 'Search: words, "phrase", -exclude, OR'),
    "search.button": ("بحث", "Search"),
    "search.results": ("نتيجة", "results"),
    "search.none": ("لا توجد نتائج", "No results"),
    "search.sort": ("الترتيب", "Sort"),
    "search.relevance": ("الأكثر صلة", "Relevance"),
    "search.newest": ("الأحدث", "Newest"),
    "search.since": ("من تاريخ", "From"),
    "search.until": ("إلى تاريخ", "To"),
    "search.date_hint": ("سنة-شهر-يوم", "YYYY-MM-DD"),
    "search.filters": ("عوامل التصفية", "Filters"),
    "search.clear": ("إزالة", "clear"),
    "search.prev": ("السابق", "Previous"),
    "search.next": ("التالي", "Next"),
    "search.page": ("صفحة", "Page"),
    "search.of": ("من", "of"),
    "facet.entities": ("الكيانات", "Entities"),
    "facet.topics": ("المواضيع", "Topics"),
    "facet.sources": ("المصادر", "Sources"),
    "facet.days": ("الأيام", "Days"),
    "article.source": ("المصدر", "Source"),
    "article.published": ("النشر", "Published"),
    "article.original": ("المقال الأصلي", "Original article"),
    "article.entities": ("الكيانات في المقال", "Entities in the article"),
    "article.topics": ("المواضيع", "Topics"),
    "article.keywords": ("كلمات مفتاحية", "Keywords"),
    "type.PER": ("شخص", "Person"),
    "type.ORG": ("منظمة", "Organisation"),
    "type.LOC": ("مكان", "Place"),
    "entity.names": ("الأسماء والصيغ", "Names and variants"),
    "entity.timeline": ("الإشارات يوميًا", "Mentions per day"),
    "entity.co": ("يُذكر مع", "Mentioned with"),
    "entity.latest": ("أحدث المقالات", "Latest articles"),
    "entity.articles": ("مقال", "articles"),
    "entity.watch": ("راقب هذا الكيان", "Watch this entity"),
    "entity.watched": ("مراقَب", "Watched"),
    "entity.unknown": ("اسم غير موجود في السجل", "Name not in the registry"),
    "entity.search": ("ابحث عن مقالاته", "Search its articles"),
    "alerts.title": ("التنبيهات", "Alerts"),
    "alerts.live": ("مباشر", "Live"),
    "alerts.offline": ("غير متصل", "Offline"),
    "alerts.none": ("لا توجد تنبيهات بعد", "No alerts yet"),
    "alerts.watch": ("المراقبة", "Watch"),
    "alerts.also": ("نُشر أيضًا في", "Also in"),
    "watches.title": ("المراقبات", "Watches"),
    "watches.none": ("لا توجد مراقبات", "No watches"),
    "watches.new": ("مراقبة جديدة", "New watch"),
    "watches.id": ("المعرّف", "Id"),
    "watches.name": ("الاسم", "Name"),
    "watches.entities": ("كيانات (مفصولة بفواصل)", "Entities (comma-separated)"),
    "watches.words": ("كلمات أو عبارات (مفصولة بفواصل)", "Words or phrases (comma-separated)"),
    "watches.topics": ("مواضيع", "Topics"),
    "watches.create": ("إنشاء", "Create"),
    "watches.state": ("الحالة", "State"),
    "watches.origin": ("المصدر", "Origin"),
    "watches.condition": ("الشرط", "Condition"),
    "watches.active": ("نشطة", "active"),
    "watches.paused": ("متوقفة", "paused"),
    "watches.config": ("ملف الإعداد", "config file"),
    "watches.runtime": ("أثناء التشغيل", "run time"),
    "watches.pause": ("إيقاف مؤقت", "Pause"),
    "watches.resume": ("استئناف", "Resume"),
    "watches.delete": ("حذف", "Delete"),
    "watches.created": ("أُنشئت المراقبة", "Watch created"),
    "watches.exists": ("المراقبة موجودة", "The watch exists"),
    "error.title": ("خطأ", "Error"),
    "login.title": ("الدخول", "Sign in"),
    "login.key": ("مفتاح الواجهة", "API key"),
    "login.submit": ("دخول", "Sign in"),
    "login.wrong": ("المفتاح غير صحيح", "Wrong key"),
    "changes.login": ("سجّل الدخول لتعديل المراقبات", "Sign in to change watches"),
    "changes.off": (
        "التعديل معطّل على هذا الخادم (لم يُضبط مفتاح للواجهة)",
        "Changes are disabled on this server (no API key is set)",
    ),
    "error.not_found": ("غير موجود", "Not found"),
    "footer.times": ("الأوقات بالتوقيت العالمي المنسق", "Times are UTC"),
}


def pick_lang(query: str | None, cookie: str | None) -> Lang:
    """`?lang=` first, then the cookie, else Arabic."""
    for value in (query, cookie):
        if value == "en":
            return "en"
        if value == "ar":
            return "ar"
    return "ar"


def direction(lang: Lang) -> Literal["rtl", "ltr"]:
    return "rtl" if lang == "ar" else "ltr"


def t(key: str, lang: Lang) -> str:
    """The UI string for `key` (the key itself when missing, so a gap shows rather than breaks)."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "ar" else pair[1]


def to_eastern(text: str) -> str:
    """Western digits → Eastern Arabic digits."""
    return text.translate(_TO_EASTERN)


def to_western(text: str) -> str:
    """Eastern Arabic and Persian digits → Western digits (for inputs)."""
    return text.translate(_TO_WESTERN)


def fmt_num(value: int | float, lang: Lang) -> str:
    """A count as the language writes it (Eastern Arabic digits in Arabic; ٬ groups thousands)."""
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
    return to_eastern(text.replace(",", "٬")) if lang == "ar" else text


def fmt_date(value: date | datetime | None, lang: Lang) -> str:
    """`13 سبتمبر 2023` in Eastern digits, or `13 Sep 2023`."""
    if value is None:
        return ""
    if lang == "ar":
        return to_eastern(f"{value.day} {_MONTHS_AR[value.month - 1]} {value.year}")
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def fmt_datetime(value: datetime | None, lang: Lang) -> str:
    """Date and UTC time: `13 سبتمبر 2023، 09:30` (Arabic comma, Eastern digits)."""
    if value is None:
        return ""
    clock = f"{value:%H:%M}"
    if lang == "ar":
        return f"{fmt_date(value, lang)}، {to_eastern(clock)}"
    return f"{fmt_date(value, lang)}, {clock}"
