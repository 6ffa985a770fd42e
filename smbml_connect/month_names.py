"""Dates written with a month's name in the shop's language, and the Japanese, Chinese and
Korean year-month-day ("3 févr. 2025", "15. März 2025", "12 de dezembro de 2025",
"2025年3月20日"), as the long date formats of Excel and of shop systems write them.

A table of our own rather than a library: dateutil knows English names only, pandas none,
and the libraries that know every language (dateparser) also read "yesterday" and
"in 2 days", which in a column of order dates would be a misreading, not a date. The
table holds the names and abbreviations (CLDR's, with and without accents) of the
languages of Western, Central and Northern Europe, Russian, Ukrainian and Turkish; each
maps to one month in every language it appears in (a word two languages give different
months, as Croatian's "listopad", is left out). Names are matched whole, never as part
of a word.
"""

from __future__ import annotations

import re

__all__ = ["MONTHS", "DatePattern", "iso_date"]

_NAMES = {
    1: "january jan janvier janv enero ene janeiro gennaio gen januar jänner jän januari "
    "stycznia styczeń sty ledna leden tammikuuta tammikuu ocak января январь янв січня "
    "január ianuarie",
    2: "february feb février févr fevrier fevr fév febrero fevereiro fev febbraio februar "
    "feber februari lutego luty lut února únor helmikuuta helmikuu şubat subat февраля "
    "февраль февр фев лютого február febr februarie",
    3: "march mar mars märz mär maerz marz marzo março marco maart mrt marts marca marzec "
    "března březen maaliskuuta maaliskuu mart марта март березня március márc martie",
    4: "april apr avril avr abril abr aprile kwietnia kwiecień kwi dubna duben huhtikuuta "
    "huhtikuu nisan апреля апрель квітня április ápr aprilie",
    5: "may mai mayo maio maggio mag mei maj maja května květen toukokuuta toukokuu mayıs "
    "mayis мая май травня május máj",
    6: "june jun juin junio junho giugno giu juni czerwca czerwiec cze června červen "
    "kesäkuuta kesäkuu haziran июня июнь июн червня június jún iunie",
    7: "july jul juillet juil julio julho luglio lug juli lipca lipiec lip července "
    "červenec heinäkuuta heinäkuu temmuz июля июль июл липня július júl iulie",
    8: "august aug août aout agosto ago augustus augusti sierpnia sierpień sie srpna srpen "
    "elokuuta elokuu ağustos agustos августа август авг серпня augusztus",
    9: "september sep sept septembre septiembre setiembre set setembro settembre "
    "septembri września wrzesień wrz září syyskuuta syyskuu eylül eylul сентября "
    "сентябрь сент сен вересня szeptember szept septembrie",
    10: "october oct octobre octubre outubro out ottobre ott oktober okt oktobre "
    "października październik paź října říjen lokakuuta lokakuu ekim октября октябрь окт "
    "жовтня október octombrie",
    11: "november nov novembre noviembre novembro listopada listopad lis listopadu "
    "marraskuuta marraskuu kasım kasim ноября ноябрь нояб ноя листопада noiembrie",
    12: "december dec décembre decembre déc diciembre dic dezembro dez dicembre dezember "
    "desember des grudnia grudzień gru prosince prosinec joulukuuta joulukuu aralık aralik "
    "декабря декабрь дек грудня decembrie",
}
MONTHS = {word: month for month, words in _NAMES.items() for word in words.split()}
# Weekdays a long date may open with ("lundi 3 février 2025", "Montag, 15. März 2025").
_WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday lundi mardi mercredi jeudi "
    "vendredi samedi dimanche montag dienstag mittwoch donnerstag freitag samstag sonnabend "
    "sonntag lunes martes miércoles miercoles jueves viernes sábado sabado domingo "
    "segunda-feira terça-feira terca-feira quarta-feira quinta-feira sexta-feira segunda "
    "terça terca quarta quinta sexta lunedì lunedi martedì martedi mercoledì mercoledi "
    "giovedì giovedi venerdì venerdi sabato domenica maandag dinsdag woensdag donderdag "
    "vrijdag zaterdag zondag måndag tisdag onsdag torsdag fredag lördag söndag mandag "
    "tirsdag lørdag søndag poniedziałek wtorek środa czwartek piątek sobota niedziela "
    "понедельник вторник среда четверг пятница суббота воскресенье".split()
)
_WORD = r"[^\W\d_]+(?:-[^\W\d_]+)?"
_TAIL = r"(?P<rest>(?:,?\s+|T)\d{1,2}[:.h]\d{2}.*)?$"  # a time after the date
# Day, month, year: "3 févr. 2025", "15. März 2025", "12 de dezembro de 2025", "le 1er
# mars 2025", "den 3 mars 2025", "3 марта 2025 г.", "3. maaliskuuta 2025", "04-mars-25".
_DAY_FIRST = re.compile(
    rf"^(?:(?!(?:le|den|am|el|o)\s)(?P<weekday>{_WORD})\.?,?\s+)?(?:(?:le|den|am|el|o)\s+)?"
    rf"(?P<day>\d{{1,2}})"
    rf"(?:er|º|ª|\.)?[\s-]*(?:de\s+|del\s+)?(?P<month>{_WORD})\.?,?[\s-]*(?:de\s+|del\s+)?"
    rf"(?P<year>\d{{4}}|\d{{2}}(?!\d))(?:\s*(?:г\.?|года|р\.|r\.))?{_TAIL}",
    re.IGNORECASE,
)
# Month, day, year: "March 3, 2025", "Februar 3, 2025".
_MONTH_FIRST = re.compile(
    rf"^(?:(?P<weekday>{_WORD})\.?,?\s+)?(?P<month>{_WORD})\.?\s+(?P<day>\d{{1,2}})"
    rf"(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}}){_TAIL}",
    re.IGNORECASE,
)
# Year, month, day: Hungarian "2025. március 20.", and the CJK "2025年3月20日" (Japanese,
# Chinese), "2025년 3월 20일" (Korean), "2025. 3. 20." (Korean's short form), with a
# weekday after in brackets or words ("(木)", "목요일") left out.
_YEAR_FIRST = re.compile(
    rf"^(?P<year>\d{{4}})\.?\s+(?P<month>{_WORD})\.?\s+(?P<day>\d{{1,2}})\.?{_TAIL}",
    re.IGNORECASE,
)
_CJK = re.compile(
    r"^(?P<year>\d{4})\s*[年년.]\s*(?P<month>\d{1,2})\s*[月월.]\s*(?P<day>\d{1,2})\s*[日일.]?"
    r"\s*(?:[(（][^)）]{1,3}[)）]|[^\W\d_]{1,3}요일|星期.|周.|週.)?"
    r"(?P<rest>\s*\d.*)?$"
)


def iso_date(text: str) -> str | None:
    """``text`` as "YYYY-MM-DD" (and the time written after it) when it is a date with a
    month's name in a language of the table or a CJK year-month-day; None when it is not
    one (English names are dateutil's too: they read the same either way)."""
    found = _CJK.match(text)
    month: int | None = int(found["month"]) if found else None
    if found is None:
        for shape in (_DAY_FIRST, _MONTH_FIRST, _YEAR_FIRST):
            found = shape.match(text)
            if found is None:
                continue
            weekday = found.groupdict().get("weekday")
            if weekday and weekday.lower() not in _WEEKDAYS:
                continue
            month = MONTHS.get(found["month"].lower().rstrip("."))
            if month is not None:
                break
        else:
            return None
    if month is None or found is None:
        return None
    rest = (found["rest"] or "").strip().lstrip(",").strip()
    year = found["year"] if len(found["year"]) == 4 else _century(found["year"])
    day = f"{year}-{month:02d}-{int(found['day']):02d}"
    return f"{day} {rest}" if rest else day


# The parts of a stated date format, longest first: the year, the month (a number, or a
# name in any language of the table), the day; anything else is written as it stands.
_PARTS = {
    "YYYY": r"(?P<year>\d{4})",
    "YY": r"(?P<yy>\d{2})",
    "MMMM": rf"(?P<name>{_WORD})\.?",
    "MMM": rf"(?P<name>{_WORD})\.?",
    "MM": r"(?P<month>\d{1,2})",
    "M": r"(?P<month>\d{1,2})",
    "DD": r"(?P<day>\d{1,2})",
    "D": r"(?P<day>\d{1,2})",
}
_PART = re.compile("|".join(_PARTS))


class DatePattern:
    """A date format the config states for a column whose values cannot tell it
    (`ordered_at = "date=DD/MM/YY"`, `"date=D MMMM YYYY"`, `"date=YYYY年M月D日"`), read
    strictly: a value that does not fit is not a date of the column. A time may follow."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        parts: set[str] = set()
        regex: list[str] = []
        at = 0
        for found in _PART.finditer(self.text):
            part = {"Y": "year", "M": "month", "D": "day"}[found[0][0]]
            if part in parts:
                raise ValueError(f"date={self.text} gives the {part} twice")
            parts.add(part)
            regex += [_literal(self.text[at : found.start()]), _PARTS[found[0]]]
            at = found.end()
        regex.append(_literal(self.text[at:]))
        if parts != {"year", "month", "day"}:
            raise ValueError(
                f"date={self.text} does not say where the year, the month and the day are: "
                "write it with YYYY (or YY), MM (or M, or MMM for a month's name) and DD "
                '(or D), as in "date=DD/MM/YYYY" or "date=D MMMM YYYY"'
            )
        self._regex = re.compile("^" + "".join(regex) + r"(?P<rest>(?:,?\s+|T).*)?$", re.I)

    def iso(self, value: str) -> str:
        """``value`` as "YYYY-MM-DD" and the time after it; ValueError when it does not fit."""
        found = self._regex.match(value.strip())
        if found is None:
            raise ValueError(f"does not fit the date format date={self.text} stated in the config")
        parts = found.groupdict()
        year = parts.get("year") or _century(parts["yy"])
        name = parts.get("name")
        month = MONTHS.get(name.lower()) if name else int(parts["month"])
        if month is None:
            raise ValueError(f"has {name!r} where date={self.text} puts the month's name")
        rest = (parts["rest"] or "").strip().lstrip(",").strip()
        day = f"{year}-{month:02d}-{int(parts['day']):02d}"
        return f"{day} {rest}" if rest else day


def _literal(text: str) -> str:
    """Text of a stated format between its parts: spaces stand for any spaces."""
    return r"\s*".join(re.escape(piece) for piece in re.split(r"\s+", text))


def _century(yy: str) -> str:
    """A two-digit year as strptime reads it: 69-99 in the 1900s, 00-68 in the 2000s."""
    return f"{19 if int(yy) >= 69 else 20}{yy}"
