"""The business's clock: times written without an offset are read on it, and the steps
count days, weeks and months on it.

The store keeps instants (UTC). A time written with an offset or a "Z" (HubSpot's
datetime properties, a Shopify export's "-0400") is an instant already. One written
without (a CSV's "2026-10-31 18:05" or "2026-10-31", a workbook's date, a sheet's serial
number, HubSpot's date-only properties) is what the business's own clock or calendar
showed, so it is read in the business's zone: taken as UTC, an Auckland shop's Saturday
morning became Friday evening, and a date-only "31 October" counted west of UTC would
fall on the 30th. The steps get the run's moment in that zone (`StepContext.as_of`)
and take calendar days from it (`wall_clock`), so every output counts the same days.

The zone is the config's ``time_zone``, else the one the source keeps (a HubSpot
portal's, a spreadsheet's), else UTC.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, timedelta, timezone, tzinfo
from functools import cache
from importlib import resources
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from smbml_connect.period_names import day_words

__all__ = [
    "NO_ZONE",
    "UTC_ZONE",
    "BusinessZone",
    "KeepsTimeZone",
    "as_of_words",
    "business_zone",
    "calendar_day",
    "calendar_days",
    "clock_words",
    "data_end",
    "day_end",
    "in_zone",
    "is_utc",
    "offsets_hint",
    "on_clock",
    "same_zone",
    "wall_clock",
    "zone_named",
    "zone_of_words",
]

UTC_ZONE = "UTC"
# Names of UTC itself (a spreadsheet's "Etc/GMT"): reading in them is reading as UTC.
_UTC_NAMES = frozenset(
    {"UTC", "UTC+00:00", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal",
     "Etc/Zulu", "Zulu", "Etc/GMT+0", "Etc/GMT-0", "Etc/GMT0", "GMT0", "GMT+0", "GMT-0",
     "Etc/Greenwich", "Greenwich", "UCT", "Etc/UCT", "Z"}
)  # fmt: skip


def is_utc(zone: object) -> bool:
    """Whether ``zone`` (a name or a tzinfo; None is UTC) is UTC under another name."""
    return zone is None or str(zone) in _UTC_NAMES


@runtime_checkable
class KeepsTimeZone(Protocol):
    """A source whose service keeps the business's time zone (a HubSpot portal's setting,
    a spreadsheet's): None when it keeps none or could not say this run."""

    zone_words: str  # whose setting it is, in words: "the HubSpot account's"

    def time_zone(self) -> str | None: ...


@dataclass(frozen=True)
class BusinessZone:
    """The zone a run reads times in, and where it came from, in words."""

    name: str  # an IANA name: "Pacific/Auckland", "UTC"
    why: str  # "set in the config", "the HubSpot account's", "none set"
    unread: str = ""  # a zone the source keeps that this machine cannot read

    @property
    def info(self) -> tzinfo:
        return zone_named(self.name)

    @property
    def words(self) -> str:
        return f"{self.name} ({self.why})"

    @property
    def guessed(self) -> bool:
        """Whether no one chose this zone: none is set in the config or the source, or the
        source's cannot be read here. Only then may times read as UTC be the shop's own
        clock; a shop that wrote ``time_zone = "UTC"`` said they are not."""
        return self.why == NO_ZONE_WHY or bool(self.unread)


NO_ZONE_WHY = "none set: add time_zone to the config"
NO_ZONE = BusinessZone(UTC_ZONE, NO_ZONE_WHY)


# Google Sheets documents "a custom time zone such as GMT-07:00" beside IANA names.
_FIXED = re.compile(r"^(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def zone_named(name: str) -> tzinfo:
    """The zone an IANA name ("Europe/Berlin", "US/Eastern", "UTC") or a fixed offset
    ("GMT-07:00", as Sheets allows, or "UTC+05:30") names; ValueError with a sentence
    when it names none. A fixed offset's name is "UTC-07:00" (pandas reads it so)."""
    given = str(name).strip()
    fixed = _FIXED.match(given)
    if fixed:
        hours, minutes = int(fixed.group(2)), int(fixed.group(3) or 0)
        if hours <= 14 and minutes < 60:
            if hours == minutes == 0:
                return ZoneInfo("UTC")
            sign = -1 if fixed.group(1) == "-" else 1
            return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        if not given or given.startswith(("/", ".")) or ".." in given:
            raise ValueError
        return ZoneInfo(given)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        known = sorted(available_timezones())
        close = [z for z in known if z.lower() == given.lower()]
        close = close or difflib.get_close_matches(given, known, n=1, cutoff=0.85)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{given!r} is not a time zone name{hint}; use a name like 'America/New_York', "
            "'Europe/London' or 'Pacific/Auckland'"
        ) from None


def business_zone(configured: str | None, source: object, last: str | None = None) -> BusinessZone:
    """The config's zone, else the source's (when its service keeps one), else UTC.

    A zone the source keeps that this machine cannot read (a name newer than its zone
    database) leaves the zone the store's rows of it were read in
    (``last``), else UTC, and says which it could not read (``BusinessZone.unread``):
    silently taking UTC would move every date written without an offset."""
    if configured:
        return BusinessZone(str(zone_named(configured)), "set in the config")
    if not isinstance(source, KeepsTimeZone):
        return NO_ZONE
    kept = source.time_zone()
    if not kept:
        return NO_ZONE if last is None else BusinessZone(last, f"{source.zone_words}, as last read")
    try:
        return BusinessZone(str(zone_named(kept)), source.zone_words)
    except ValueError:
        name = last or UTC_ZONE
        why = f"{source.zone_words} zone {kept!r} cannot be read here"
        return BusinessZone(name, why + (", as last read" if last else ""), kept)


def same_zone(a: str, b: str) -> bool:
    """Whether two names name one clock: "US/Eastern" is America/New_York (a link in the
    tz database), "Etc/GMT" is UTC. A change between them moves no date."""
    if a == b or (is_utc(a) and is_utc(b)):
        return True
    links = _links()
    return links.get(a, a) == links.get(b, b)


@cache
def _links() -> dict[str, str]:
    """Each link of the tz database -> the zone it names (tzdata.zi's "L" lines), followed
    to the end; empty where the file cannot be read (names are then compared as written)."""
    try:
        text = _tzdata_file("tzdata.zi")
    except (ModuleNotFoundError, OSError):
        return {}
    links = {parts[2]: parts[1] for parts in (line.split() for line in text.splitlines())
             if len(parts) == 3 and parts[0] == "L"}  # fmt: skip
    for _ in range(3):  # a link to a link: follow it
        links = {name: links.get(target, target) for name, target in links.items()}
    return links


def _tzdata_file(name: str) -> str:
    return resources.files("tzdata").joinpath("zoneinfo", name).read_text("utf-8")


def clock_words(zone: object) -> str:
    """Whose clock a time is on, after the time: 'UTC', 'Pacific/Auckland time'."""
    return "UTC" if is_utc(zone) else f"{zone} time"


def in_zone(naive: pd.Series, zone: tzinfo | str) -> pd.Series:
    """Naive times read as the zone's clock showed them, as UTC instants. A time the
    clock showed twice (the hour repeated when summer time ends) is taken the first
    time; one it never showed (the hour skipped when it starts) moves forward to the
    first time it did: no row is lost to a clock change."""
    stamps = pd.to_datetime(naive)
    if len(stamps) == 0:
        return stamps.dt.tz_localize("UTC")
    local = stamps.dt.tz_localize(
        zone, ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="shift_forward"
    )
    return local.dt.tz_convert("UTC")


def wall_clock(stamps: pd.Series | pd.DatetimeIndex, zone: Any) -> Any:
    """Instants as the zone's clock shows them, without a zone (for days, weeks and
    months); naive values are taken as UTC instants. ``zone`` None is UTC."""
    aware = pd.to_datetime(stamps, utc=True)
    if zone is None:
        zone = "UTC"
    if isinstance(aware, pd.DatetimeIndex):
        return aware.tz_convert(zone).tz_localize(None)
    return aware.dt.tz_convert(zone).dt.tz_localize(None)


def on_clock(stamps: pd.Series, zone: Any) -> pd.Series:
    """Instants shown on the zone's clock (UTC when None), still instants: dates formatted
    from them are the business's."""
    return pd.to_datetime(stamps, utc=True).dt.tz_convert(zone or "UTC")


def calendar_days(stamps: pd.Series, zone: Any) -> pd.Series:
    """The business's calendar day of each instant, as that day's midnight in UTC: a
    date, compared and subtracted as whole days whatever the zone (and the same values
    as ``floor("D")`` gave when every day was UTC's)."""
    return wall_clock(stamps, zone).dt.normalize().dt.tz_localize("UTC")


DAY_END_GAP = pd.Timedelta(microseconds=1)  # from a day's last instant to the next midnight


def day_end(day: date) -> pd.Timestamp:
    """A day's last instant, without a zone (read on the business's clock): a run dated a
    day (the config's ``as_of = 2025-12-13``) counts the whole of it, as "Data up to 13
    December" says, and everything the steps compare with ``<= as_of`` takes that day in."""
    return pd.Timestamp(day) + pd.Timedelta(days=1) - DAY_END_GAP


def data_end(stamp: pd.Timestamp) -> pd.Timestamp:
    """The first moment a run does not count: the next midnight for a run dated a whole day
    (`day_end`), else its own moment. Periods and weeks are over, and words say "the end
    of 13 December", from it."""
    after = stamp + DAY_END_GAP
    return after if after == after.normalize() else stamp


def as_of_words(as_of: pd.Timestamp) -> str:
    """The moment a run counts up to, written so that typed as SEGMENT's or CHURN's
    ``as_of`` it gives the tab's figures: "the end of 2026-11-20" for a run dated a day
    (type the date), "2026-10-31 00:00 UTC (the end of 30 October 2026)" for one dated
    midnight, "2026-12-08 07:59:34 Australia/Sydney time" for a run at its own moment. A
    bare date printed for the last two was read as the whole day: a day further on."""
    if data_end(as_of) != as_of:
        return f"the end of {as_of:%Y-%m-%d}"
    shown = f"{as_of:%Y-%m-%d %H:%M}" + ("" if as_of.second == 0 else f":{as_of:%S}")
    said = f"{shown} {clock_words(as_of.tz)}"
    if as_of == as_of.normalize():
        return f"{said} (the end of {day_words(as_of - pd.Timedelta(days=1))})"
    return said


def calendar_day(stamp: pd.Timestamp) -> pd.Timestamp:
    """A moment's calendar day on its own clock (UTC for one without a zone), as that
    day's midnight in UTC (see `calendar_days`)."""
    local = stamp.tz_localize(None) if stamp.tzinfo else stamp
    return local.normalize().tz_localize("UTC")


# A time with its UTC offset at the end: "09:50:26 +0200", "T09:50:26.5+02:00", "10:00Z".
_OFFSET = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm]\s*)?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)\s*$"
# Zones offered as examples when the tz database's own list cannot be read, by region
# ("Etc/GMT-2", "CET" and the old "US/..." links fit too, but nobody names a clock so).
_REGIONS = ("Europe", "America", "Asia", "Australia", "Pacific", "Africa", "Atlantic", "Indian")
HINT_SAMPLE = 400  # distinct times whose offsets are checked against every zone


def offsets_hint(values: pd.Series, what: str) -> str | None:
    """A sentence for a run with no zone set whose times carry an offset other than UTC's
    (a Shopify export's "+0200"): which offsets, the zones that fit them on every date
    seen, and that days are counted in UTC until ``time_zone`` is set. None when no
    value carries an offset, or every one is UTC's."""
    texts = pd.Series(pd.unique(values.dropna().astype(str).str.strip()), dtype=object)
    if texts.empty:
        return None
    if len(texts) > HINT_SAMPLE:  # spread over the column: both sides of a clock change
        texts = texts.iloc[np.linspace(0, len(texts) - 1, HINT_SAMPLE).astype(int)]
    parts = texts.str.extract(_OFFSET)
    zoned = parts[2].notna() | parts[0].notna()
    if not zoned.any():
        return None
    sign = np.where(parts[1] == "-", -1, 1)
    hours, mins = parts[2].astype(float), parts[3].astype(float).fillna(0.0)
    minutes = (sign * (hours * 60 + mins)).fillna(0.0)[zoned.to_numpy()]
    stamps = pd.to_datetime(texts[zoned.to_numpy()], utc=True, errors="coerce", format="mixed")
    read = stamps.notna().to_numpy()  # a damaged date's offset is no evidence
    minutes, stamps = minutes[read], stamps[read]
    if not (minutes != 0).any():
        return None
    seen = [
        (stamp.to_pydatetime(), timedelta(minutes=float(m)))
        for stamp, m in zip(stamps, minutes, strict=True)
    ]
    fits = [
        name
        for name in _canonical_zones()
        if all(moment.astimezone(ZoneInfo(name)).utcoffset() == off for moment, off in seen)
    ]
    offsets = [_offset_words(int(m)) for m in sorted(set(minutes.astype(int)))]
    shown = " and ".join([", ".join(offsets[:-1]), offsets[-1]] if len(offsets) > 1 else offsets)
    if fits:
        more = f" and {len(fits) - 4} more zones" if len(fits) > 4 else ""
        fitting = f"as in {', '.join(fits[:4])}{more}"
    else:
        fitting = "which no single zone keeps on every date seen"
    setting = (
        f'Set time_zone = "{fits[0]}" at the top of the config'
        if len(fits) == 1
        else "Set time_zone at the top of the config to your business's zone"
        + (" (such as one of those)" if fits else "")
    )
    return (
        f"{what} carry the UTC offset{'s' if len(offsets) > 1 else ''} {shown} ({fitting}), "
        "and no time_zone is set, so their days, weeks and months are counted in UTC: an "
        f"evening order may fall on the next day. {setting} to count them on your clock."
    )


# Zones some services name in words: Square's exports write each row's "Time Zone" as
# Rails' ActiveSupport::TimeZone names it ("Pacific Time (US & Canada)", "Copenhagen",
# "Cape Verde Is."), so every one of those names is here, with its IANA zone. Rails'
# choice is kept except where the tz database now says better: Astana keeps
# Kazakhstan's clock (Asia/Almaty, not Dhaka's), Quito Ecuador's, Hanoi Vietnam's, Abu
# Dhabi the UAE's, and renamed zones by their current names (Kyiv, Nuuk, Yangon). A
# name of a link ("Europe/Copenhagen") is a name the user knows; it reads as its zone.
_PLACES = """
international date line west=Pacific/Pago_Pago; midway island=Pacific/Pago_Pago;
american samoa=Pacific/Pago_Pago; hawaii=Pacific/Honolulu; alaska=America/Anchorage;
pacific time (us & canada)=America/Los_Angeles; tijuana=America/Tijuana;
mountain time (us & canada)=America/Denver; arizona=America/Phoenix;
chihuahua=America/Chihuahua; mazatlan=America/Mazatlan;
central time (us & canada)=America/Chicago; saskatchewan=America/Regina;
guadalajara=America/Mexico_City; mexico city=America/Mexico_City;
monterrey=America/Monterrey; central america=America/Guatemala;
eastern time (us & canada)=America/New_York; indiana (east)=America/Indiana/Indianapolis;
bogota=America/Bogota; lima=America/Lima; quito=America/Guayaquil;
atlantic time (canada)=America/Halifax; caracas=America/Caracas; la paz=America/La_Paz;
santiago=America/Santiago; newfoundland=America/St_Johns; brasilia=America/Sao_Paulo;
buenos aires=America/Argentina/Buenos_Aires; montevideo=America/Montevideo;
georgetown=America/Guyana; puerto rico=America/Puerto_Rico; greenland=America/Nuuk;
mid-atlantic=Atlantic/South_Georgia; azores=Atlantic/Azores;
cape verde is.=Atlantic/Cape_Verde; dublin=Europe/Dublin; edinburgh=Europe/London;
lisbon=Europe/Lisbon; london=Europe/London; casablanca=Africa/Casablanca;
monrovia=Africa/Monrovia; utc=UTC; belgrade=Europe/Belgrade; bratislava=Europe/Bratislava;
budapest=Europe/Budapest; ljubljana=Europe/Ljubljana; prague=Europe/Prague;
sarajevo=Europe/Sarajevo; skopje=Europe/Skopje; warsaw=Europe/Warsaw; zagreb=Europe/Zagreb;
brussels=Europe/Brussels; copenhagen=Europe/Copenhagen; madrid=Europe/Madrid;
paris=Europe/Paris; amsterdam=Europe/Amsterdam; berlin=Europe/Berlin; bern=Europe/Zurich;
zurich=Europe/Zurich; rome=Europe/Rome; stockholm=Europe/Stockholm; vienna=Europe/Vienna;
west central africa=Africa/Algiers; bucharest=Europe/Bucharest; cairo=Africa/Cairo;
helsinki=Europe/Helsinki; kyiv=Europe/Kyiv; riga=Europe/Riga; sofia=Europe/Sofia;
tallinn=Europe/Tallinn; vilnius=Europe/Vilnius; athens=Europe/Athens;
istanbul=Europe/Istanbul; minsk=Europe/Minsk; jerusalem=Asia/Jerusalem;
harare=Africa/Harare; pretoria=Africa/Johannesburg; kaliningrad=Europe/Kaliningrad;
moscow=Europe/Moscow; st. petersburg=Europe/Moscow; volgograd=Europe/Volgograd;
samara=Europe/Samara; kuwait=Asia/Kuwait; riyadh=Asia/Riyadh; nairobi=Africa/Nairobi;
baghdad=Asia/Baghdad; tehran=Asia/Tehran; abu dhabi=Asia/Dubai; muscat=Asia/Muscat;
baku=Asia/Baku; tbilisi=Asia/Tbilisi; yerevan=Asia/Yerevan; kabul=Asia/Kabul;
ekaterinburg=Asia/Yekaterinburg; islamabad=Asia/Karachi; karachi=Asia/Karachi;
tashkent=Asia/Tashkent; chennai=Asia/Kolkata; kolkata=Asia/Kolkata; mumbai=Asia/Kolkata;
new delhi=Asia/Kolkata; kathmandu=Asia/Kathmandu; astana=Asia/Almaty; dhaka=Asia/Dhaka;
sri jayawardenepura=Asia/Colombo; almaty=Asia/Almaty; novosibirsk=Asia/Novosibirsk;
rangoon=Asia/Yangon; bangkok=Asia/Bangkok; hanoi=Asia/Ho_Chi_Minh; jakarta=Asia/Jakarta;
krasnoyarsk=Asia/Krasnoyarsk; beijing=Asia/Shanghai; chongqing=Asia/Shanghai;
hong kong=Asia/Hong_Kong; urumqi=Asia/Urumqi; kuala lumpur=Asia/Kuala_Lumpur;
singapore=Asia/Singapore; taipei=Asia/Taipei; perth=Australia/Perth;
irkutsk=Asia/Irkutsk; ulaanbaatar=Asia/Ulaanbaatar; seoul=Asia/Seoul; osaka=Asia/Tokyo;
sapporo=Asia/Tokyo; tokyo=Asia/Tokyo; yakutsk=Asia/Yakutsk; darwin=Australia/Darwin;
adelaide=Australia/Adelaide; canberra=Australia/Sydney; melbourne=Australia/Melbourne;
sydney=Australia/Sydney; brisbane=Australia/Brisbane; hobart=Australia/Hobart;
vladivostok=Asia/Vladivostok; guam=Pacific/Guam; port moresby=Pacific/Port_Moresby;
magadan=Asia/Magadan; srednekolymsk=Asia/Srednekolymsk; solomon is.=Pacific/Guadalcanal;
new caledonia=Pacific/Noumea; fiji=Pacific/Fiji; kamchatka=Asia/Kamchatka;
marshall is.=Pacific/Majuro; auckland=Pacific/Auckland; wellington=Pacific/Auckland;
nuku'alofa=Pacific/Tongatapu; tokelau is.=Pacific/Fakaofo; chatham is.=Pacific/Chatham;
samoa=Pacific/Apia
"""
_REGION_WORDS = dict(
    (name.strip(), zone.strip())
    for item in " ".join(_PLACES.split("\n")).split(";")
    if item.strip()
    for name, zone in [item.split("=")]
)


@cache
def zone_of_words(words: str) -> str | None:
    """The zone a service names in words ("Pacific Time (US & Canada)", "London",
    "Europe/London"), or None when the words name no one zone."""
    text = " ".join(str(words).split())
    if not text:
        return None
    if text.lower() in _REGION_WORDS:
        return _REGION_WORDS[text.lower()]
    try:
        return str(zone_named(text))
    except ValueError:
        return _zone_of_city(text.replace(" ", "_").lower())


def _zone_of_city(city: str) -> str | None:
    """The zone a city names ("Oslo": Europe/Oslo, a link the tz database keeps for it),
    when all the names ending in it are one clock (Buenos_Aires: two names, one zone)."""
    known = sorted(available_timezones())
    found = [
        z for z in known if z.split("/")[0] in _REGIONS and z.rsplit("/", 1)[-1].lower() == city
    ]
    links = _links()
    if not found or len({links.get(z, z) for z in found}) > 1:
        return None
    canonical = [z for z in found if z not in links]
    return canonical[0] if canonical else found[0]


# The zones most businesses keep their clocks on, offered first among those that fit an
# export's offsets (the tz database has no notion of size: by name, Africa/Ceuta came
# before Europe/Berlin).
_MAIN_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Phoenix", "America/Anchorage", "Pacific/Honolulu", "America/Toronto",
    "America/Vancouver", "America/Halifax", "America/Mexico_City", "America/Bogota",
    "America/Lima", "America/Santiago", "America/Sao_Paulo", "America/Argentina/Buenos_Aires",
    "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin",
    "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam", "Europe/Brussels", "Europe/Zurich",
    "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki", "Europe/Istanbul",
    "Europe/Moscow", "Africa/Lagos", "Africa/Cairo", "Africa/Johannesburg", "Africa/Nairobi",
    "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata", "Asia/Bangkok", "Asia/Jakarta",
    "Asia/Singapore", "Asia/Manila", "Asia/Hong_Kong", "Asia/Shanghai", "Asia/Seoul",
    "Asia/Tokyo", "Australia/Perth", "Australia/Adelaide", "Australia/Brisbane",
    "Australia/Sydney", "Australia/Melbourne", "Pacific/Auckland",
)  # fmt: skip


@cache
def _canonical_zones() -> list[str]:
    """The tz database's zones, not its links ("America/New_York", not "US/Eastern" or
    "America/Fort_Wayne"), the main ones (`_MAIN_ZONES`) first: its zone.tab less the
    names tzdata.zi makes links, from the tzdata package pandas requires; by region
    where those cannot be read."""
    known = available_timezones()
    try:
        table = _tzdata_file("zone.tab")
        names = [line.split("\t")[2] for line in table.splitlines() if line and line[0] != "#"]
    except (ModuleNotFoundError, OSError, IndexError):
        names = [n for n in known if n.split("/")[0] in _REGIONS]
    links = _links()
    zones = {n for n in names if n in known and n not in links}
    main = [n for n in _MAIN_ZONES if n in zones]
    return main + sorted(zones - set(main))


def _offset_words(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
