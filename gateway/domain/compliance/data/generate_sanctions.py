"""Regenerate sanctions.json: `python -m gateway.domain.compliance.data.generate_sanctions`."""

# Names in Cyrillic, Arabic and Han are the data here, so look-alike letters are intended.
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Final, Literal

import msgspec
from gateway.domain.compliance.sanctions_data import SanctionsAlias, SanctionsEntry, SanctionsList
from gateway.domain.compliance.screening import normalise_name
from pypinyin import lazy_pinyin

# Every record is invented: names are drawn from syllable and name-part pools, never from a real list.
SEED: Final = 2026
VERSION: Final = "synthetic-2026-11"
OUTPUT: Final = Path(__file__).with_name("sanctions.json")

Script = Literal["latin", "han", "cyrillic", "arabic"]
Alias = tuple[str, Literal["strong", "weak"], Script]

PROGRAMS: Final = ("SYN-TERR", "SYN-NARC", "SYN-PROLIF", "SYN-CYBER", "SYN-FIN", "SYN-HR")
ROLES: Final = (
    "alleged financier",
    "procurement agent",
    "courier",
    "network facilitator",
    "front-company director",
    "money launderer",
)
ENTITY_ROLES: Final = ("front company", "vessel operator", "payment channel", "procurement front", "shell")

WESTERN_GIVEN: Final = (
    "José", "François", "Jürgen", "Søren", "Björn", "Raúl", "Inês", "Anaïs", "Łukasz", "Stanisław",
    "Đorđe", "Małgorzata", "Renée", "Hélène", "Sébastien", "Andrés", "Håkon", "Zoë", "Marta", "Nicolás",
    "Joaquín", "Françoise", "Grégoire", "Jiří", "Tomáš", "Ljubica", "Dragan", "Mirjana", "Oskar",
    "Ingrid", "Matthias", "Gerlinde", "Lúcia", "João", "Gonçalo",
)  # fmt: skip
WESTERN_SURNAMES: Final = (
    "Müller", "Øberg", "Gómez", "Fernández", "Dubois", "Kowalski", "Nowak", "Lindqvist", "Håkansson",
    "Novák", "Dvořák", "Petrović", "Jovanović", "Schäfer", "Weiß", "Groß", "García", "Llorente", "Costa",
    "Ferreira", "Moreau", "Lefèvre", "Østergaard", "Kjær", "Bianchi", "Esposito", "Łęcki", "Brandão",
    "Gonçalves", "Žukauskas", "Šimić", "Horváth", "Kovács", "Szabó", "Vlahović", "Römer", "Strauß",
    "Jørgensen", "Mäkinen", "Ibáñez",
)  # fmt: skip
WESTERN_COUNTRIES: Final = (
    "ES", "DE", "NO", "FR", "PL", "SE", "DK", "PT", "IT", "HR", "RS", "CZ", "HU", "FI", "LT", "AT", "BE",
)  # fmt: skip

# (usual transliteration, variant spellings, Arabic script)
ARABIC_GIVEN: Final = (
    ("Muhammad", ("Mohammed", "Mohamed", "Mohammad"), "محمد"),
    ("Ahmad", ("Ahmed",), "أحمد"),
    ("Abdullah", ("Abdallah", "Abdulla"), "عبد الله"),
    ("Yusuf", ("Youssef", "Yousef"), "يوسف"),
    ("Hassan", ("Hasan",), "حسن"),
    ("Hussein", ("Husayn", "Hussain"), "حسين"),
    ("Omar", ("Umar",), "عمر"),
    ("Khalid", ("Khaled",), "خالد"),
    ("Ibrahim", ("Ebrahim",), "إبراهيم"),
    ("Mustafa", ("Moustafa", "Mostafa"), "مصطفى"),
    ("Tariq", ("Tarek", "Tareq"), "طارق"),
    ("Saeed", ("Said", "Sayed"), "سعيد"),
    ("Walid", ("Waleed",), "وليد"),
    ("Faisal", ("Faysal",), "فيصل"),
    ("Jamal", ("Gamal",), "جمال"),
    ("Karim", ("Kareem",), "كريم"),
)
ARABIC_FAMILY: Final = (
    ("al-Rashid", ("el-Rasheed", "al-Rasheed"), "الرشيد"),
    ("al-Masri", ("el-Masry",), "المصري"),
    ("al-Najjar", ("el-Naggar",), "النجار"),
    ("al-Hashimi", ("al-Hashemi",), "الهاشمي"),
    ("al-Sayyid", ("el-Sayed", "al-Sayed"), "السيد"),
    ("Haddad", ("Hadad",), "حداد"),
    ("Nasser", ("Nasir", "Naser"), "ناصر"),
    ("al-Zahrani", ("al-Zahrany",), "الزهراني"),
    ("al-Farouk", ("al-Faruq",), "الفاروق"),
    ("al-Amin", ("el-Amin",), "الأمين"),
    ("Mansour", ("Mansur",), "منصور"),
    ("Khoury", ("Khouri", "Khuri"), "خوري"),
    ("Jaber", ("Jabir",), "جابر"),
    ("al-Qurashi", ("Qureshi", "al-Koreishi"), "القرشي"),
    ("al-Tamimi", ("el-Tamimi",), "التميمي"),
    ("Darwish", ("Derwish",), "درويش"),
    ("al-Shami", ("el-Shamy",), "الشامي"),
    ("Barakat", ("Baraket",), "بركات"),
)
ARABIC_COUNTRIES: Final = ("EG", "JO", "LB", "AE", "SA", "IQ", "SY", "YE", "MA", "LY", "TN")

# (romanisation, variant spellings, Cyrillic)
RUSSIAN_GIVEN_MALE: Final = (
    ("Aleksandr", ("Alexander",), "Александр"),
    ("Dmitriy", ("Dmitry", "Dmitri"), "Дмитрий"),
    ("Sergey", ("Sergei",), "Сергей"),
    ("Mikhail", ("Mihail",), "Михаил"),
    ("Nikolay", ("Nikolai",), "Николай"),
    ("Yuriy", ("Yuri", "Yury"), "Юрий"),
    ("Andrey", ("Andrei",), "Андрей"),
    ("Aleksey", ("Alexei", "Alexey"), "Алексей"),
    ("Vladimir", ("Wladimir",), "Владимир"),
    ("Ivan", (), "Иван"),
    ("Pavel", (), "Павел"),
    ("Igor", (), "Игорь"),
    ("Oleg", (), "Олег"),
    ("Viktor", ("Victor",), "Виктор"),
    ("Yevgeniy", ("Evgeny", "Yevgeny"), "Евгений"),
    ("Boris", (), "Борис"),
    ("Konstantin", ("Constantin",), "Константин"),
)
RUSSIAN_GIVEN_FEMALE: Final = (
    ("Yelena", ("Elena",), "Елена"),
    ("Olga", (), "Ольга"),
    ("Natalya", ("Natalia",), "Наталья"),
    ("Irina", (), "Ирина"),
    ("Tatyana", ("Tatiana",), "Татьяна"),
    ("Svetlana", (), "Светлана"),
    ("Marina", (), "Марина"),
)
# (male, female, male Cyrillic, female Cyrillic)
RUSSIAN_PATRONYMICS: Final = (
    ("Sergeyevich", "Sergeyevna", "Сергеевич", "Сергеевна"),
    ("Ivanovich", "Ivanovna", "Иванович", "Ивановна"),
    ("Petrovich", "Petrovna", "Петрович", "Петровна"),
    ("Nikolayevich", "Nikolayevna", "Николаевич", "Николаевна"),
    ("Viktorovich", "Viktorovna", "Викторович", "Викторовна"),
    ("Aleksandrovich", "Aleksandrovna", "Александрович", "Александровна"),
    ("Vladimirovich", "Vladimirovna", "Владимирович", "Владимировна"),
    ("Borisovich", "Borisovna", "Борисович", "Борисовна"),
)
# (male romanisation, variant spellings, male Cyrillic); the female form adds "a" / "а".
RUSSIAN_SURNAMES: Final = (
    ("Petrov", ("Petroff",), "Петров"),
    ("Ivanov", ("Ivanoff",), "Иванов"),
    ("Smirnov", ("Smirnoff",), "Смирнов"),
    ("Volkov", ("Volkoff",), "Волков"),
    ("Sokolov", ("Sokoloff",), "Соколов"),
    ("Morozov", ("Morozoff",), "Морозов"),
    ("Lebedev", ("Lebedeff",), "Лебедев"),
    ("Kozlov", ("Kozloff",), "Козлов"),
    ("Novikov", ("Novikoff",), "Новиков"),
    ("Orlov", ("Orloff",), "Орлов"),
    ("Popov", ("Popoff",), "Попов"),
    ("Fedorov", ("Fyodorov", "Fedoroff"), "Фёдоров"),
    ("Zaytsev", ("Zaitsev",), "Зайцев"),
    ("Belov", ("Beloff",), "Белов"),
    ("Karpov", ("Karpoff",), "Карпов"),
    ("Gusev", ("Guseff",), "Гусев"),
    ("Vinogradov", ("Vinogradoff",), "Виноградов"),
    ("Tarasov", ("Tarasoff",), "Тарасов"),
    ("Zhukov", ("Zhukoff",), "Жуков"),
)
RUSSIAN_COUNTRIES: Final = ("RU", "BY", "KZ")

# (simplified, traditional, pinyin, Cantonese romanisation as used in Hong Kong)
CHINESE_SURNAMES: Final = (
    ("陈", "陳", "chen", "Chan"),
    ("张", "張", "zhang", "Cheung"),
    ("刘", "劉", "liu", "Lau"),
    ("黄", "黃", "huang", "Wong"),
    ("杨", "楊", "yang", "Yeung"),
    ("赵", "趙", "zhao", "Chiu"),
    ("吴", "吳", "wu", "Ng"),
    ("周", "周", "zhou", "Chow"),
    ("郑", "鄭", "zheng", "Cheng"),
    ("王", "王", "wang", "Wong"),
    ("李", "李", "li", "Lee"),
    ("林", "林", "lin", "Lam"),
)
CHINESE_GIVEN: Final = (
    ("伟", "偉", "wei", "Wai"),
    ("国", "國", "guo", "Kwok"),
    ("东", "東", "dong", "Tung"),
    ("华", "華", "hua", "Wah"),
    ("龙", "龍", "long", "Lung"),
    ("明", "明", "ming", "Ming"),
    ("军", "軍", "jun", "Kwan"),
    ("海", "海", "hai", "Hoi"),
    ("强", "強", "qiang", "Keung"),
    ("平", "平", "ping", "Ping"),
    ("建", "建", "jian", "Kin"),
    ("文", "文", "wen", "Man"),
    ("志", "志", "zhi", "Chi"),
    ("红", "紅", "hong", "Hung"),
    ("峰", "峰", "feng", "Fung"),
    ("涛", "濤", "tao", "To"),
    ("杰", "傑", "jie", "Kit"),
)
CHINESE_COUNTRIES: Final = ("CN", "CN", "CN", "HK", "SG", "MY")

ENTITY_NAMES: Final = (
    "Golden Crescent", "Northern Star", "Blue Horizon", "Silk Road", "Caspian Pearl", "Eastern Gate",
    "Black Sea", "Atlas", "Meridian", "Orion", "Zenith", "Sapphire", "Phoenix Rising", "Harbor Light",
    "Baltic Amber", "Desert Rose", "Jade Dragon", "Red Lotus", "Iron Bridge", "Coral Reef", "Silver Dune",
    "Falcon Crest", "Cedar Grove", "Oasis Star", "Granite Peak", "Aurora Polaris", "Monsoon", "Al-Noor",
    "Al-Waha", "Al-Safwa", "Al-Manara", "Al-Fajr",
)  # fmt: skip
ENTITY_SECTORS: Final = (
    "Trading", "Shipping", "Maritime", "Commercial Bank", "Import Export", "Logistics", "Petroleum",
    "Industrial Supply", "Investment", "Holding", "Freight Lines", "Navigation", "Exchange", "Metals",
    "Electronics",
)  # fmt: skip
LEGAL_FORMS: Final = ("Ltd", "LLC", "Co.", "Co., Ltd.", "Limited", "Inc.", "Corp.", "FZE", "JSC")
ENTITY_COUNTRIES: Final = ("AE", "CY", "PA", "HK", "SG", "MT", "LR", "MH", "TR", "GE", "AM", "MY")
# (romanisation, Cyrillic) of Russian-language company names, registered as OOO (LLC).
RUSSIAN_ENTITIES: Final = (
    ("Severnaya Zvezda", "Северная Звезда"),
    ("Volga Tranzit", "Волга Транзит"),
    ("Uralskiy Metall", "Уральский Металл"),
    ("Baykal Resurs", "Байкал Ресурс"),
    ("Amur Logistika", "Амур Логистика"),
    ("Ladoga Flot", "Ладога Флот"),
    ("Taiga Eksport", "Тайга Экспорт"),
)
# (simplified, traditional, pinyin, English) name parts of Chinese companies.
CHINESE_ENTITY_NAMES: Final = (
    ("东海", "東海", "Donghai", "East Sea"),
    ("华盛", "華盛", "Huasheng", "Huasheng"),
    ("金龙", "金龍", "Jinlong", "Golden Dragon"),
    ("远洋", "遠洋", "Yuanyang", "Ocean"),
    ("恒通", "恆通", "Hengtong", "Hengtong"),
    ("鸿运", "鴻運", "Hongyun", "Hongyun"),
)
CHINESE_ENTITY_SECTORS: Final = (
    ("贸易", "貿易", "Maoyi", "Trading"),
    ("航运", "航運", "Hangyun", "Shipping"),
    ("物流", "物流", "Wuliu", "Logistics"),
    ("电子", "電子", "Dianzi", "Electronics"),
    ("能源", "能源", "Nengyuan", "Energy"),
)


class _ListBuilder:
    """Collects entries and refuses one whose strong names are indistinguishable from another entry's."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.entries: list[SanctionsEntry] = []
        self._owners: dict[str, str] = {}

    def add(
        self,
        kind: Literal["individual", "entity"],
        primary: str,
        aliases: Sequence[Alias],
        *,
        birth_dates: Sequence[str] = (),
        nationalities: Sequence[str],
        remarks: str,
    ) -> bool:
        entry_id = f"SAN-{len(self.entries) + 1:05d}"
        # Aliases that normalise like the primary name stay: lists print them, and officers search them.
        unique: list[Alias] = []
        seen = {primary.casefold()}
        for alias in aliases:
            if alias[0].casefold() not in seen:
                seen.add(alias[0].casefold())
                unique.append(alias)
        if not unique:
            return False
        # Keys on which a name scores 1.0; two entries sharing one would make the top hit a coin toss.
        keys: set[str] = set()
        for name in [primary, *(alias[0] for alias in unique if alias[1] == "strong")]:
            form = normalise_name(name)
            keys |= {f"t:{form.sorted_text}", f"s:{form.sorted_key}", f"o:{form.ordered_key}"}
            keys.add(f"o:{form.reversed_key}")
        if any(key in self._owners for key in keys):
            return False
        self._owners.update(dict.fromkeys(keys, entry_id))
        self.entries.append(
            SanctionsEntry(
                id=entry_id,
                kind=kind,
                primary_name=primary,
                aliases=tuple(SanctionsAlias(name=n, quality=q, script=s) for n, q, s in unique),
                birth_dates=tuple(birth_dates),
                nationalities=tuple(sorted(set(nationalities))),
                programs=tuple(sorted(self.rng.sample(PROGRAMS, self.rng.choice((1, 1, 2))))),
                listed_on=date(2001, 1, 1) + timedelta(days=self.rng.randrange(9435)),
                remarks=remarks,
            )
        )
        return True

    def fill(self, target: int, make: Callable[[_ListBuilder], bool]) -> None:
        goal = len(self.entries) + target
        for _ in range(target * 50):
            if len(self.entries) >= goal:
                return
            make(self)
        raise RuntimeError(f"could not generate {target} distinct entries")

    def birth_dates(self) -> list[str]:
        first = date(1950, 1, 1) + timedelta(days=self.rng.randrange(365 * 45))
        dates = [first.isoformat() if self.rng.random() < 0.7 else str(first.year)]
        if self.rng.random() < 0.2:  # an alternative birth date, as lists record when sources disagree
            dates.append(str(first.year + self.rng.choice((-1, 1))))
        return dates

    def countries(self, pool: Sequence[str]) -> list[str]:
        return self.rng.sample(list(dict.fromkeys(pool)), 2 if self.rng.random() < 0.15 else 1)

    def person_remarks(self) -> str:
        return f"Synthetic test record, not a real person; {self.rng.choice(ROLES)}."

    def entity_remarks(self) -> str:
        return f"Synthetic test record, not a real company; {self.rng.choice(ENTITY_ROLES)}."


_ASCII_FOLD: Final = str.maketrans("øØłŁđĐ", "oOlLdD")  # letters NFKD leaves whole


def _ascii(name: str) -> str:
    folded = name.translate(_ASCII_FOLD).replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def _western(builder: _ListBuilder) -> bool:
    rng = builder.rng
    given = rng.choice(WESTERN_GIVEN)
    surname = "-".join(rng.sample(WESTERN_SURNAMES, 2 if rng.random() < 0.25 else 1))
    return _add_western(builder, given, surname)


def _add_western(builder: _ListBuilder, given: str, surname: str) -> bool:
    primary = f"{given} {surname}"
    aliases: list[Alias] = [(f"{surname.upper()}, {given}", "strong", "latin")]
    if _ascii(primary) != primary:
        aliases.append((_ascii(primary), "strong", "latin"))
    if builder.rng.random() < 0.5:
        aliases.append((f"{given[0]}. {surname.split('-')[0]}", "weak", "latin"))
    return builder.add(
        "individual",
        primary,
        aliases,
        birth_dates=builder.birth_dates(),
        nationalities=builder.countries(WESTERN_COUNTRIES),
        remarks=builder.person_remarks(),
    )


def _arabic(builder: _ListBuilder) -> bool:
    rng = builder.rng
    given, family = rng.choice(ARABIC_GIVEN), rng.choice(ARABIC_FAMILY)
    father = rng.choice(ARABIC_GIVEN) if rng.random() < 0.3 else None
    return _add_arabic(builder, given, family, father)


def _add_arabic(
    builder: _ListBuilder,
    given: tuple[str, tuple[str, ...], str],
    family: tuple[str, tuple[str, ...], str],
    father: tuple[str, tuple[str, ...], str] | None,
) -> bool:
    rng = builder.rng
    middle = f" bin {father[0]}" if father else ""
    primary = f"{given[0]}{middle} {family[0]}"
    aliases: list[Alias] = []
    for _ in range(rng.randint(1, 3)):
        variant_given = rng.choice((given[0], *given[1]))
        variant_family = rng.choice((family[0], *family[1]))
        aliases.append((f"{variant_given} {variant_family}", "strong", "latin"))
    arabic_middle = f" بن {father[2]}" if father else ""
    aliases.append((f"{given[2]}{arabic_middle} {family[2]}", "strong", "arabic"))
    if rng.random() < 0.4:  # a kunya ("father of ..."), a common but weak identifier
        aliases.append((f"Abu {rng.choice(ARABIC_GIVEN)[0]}", "weak", "latin"))
    return builder.add(
        "individual",
        primary,
        aliases,
        birth_dates=builder.birth_dates(),
        nationalities=builder.countries(ARABIC_COUNTRIES),
        remarks=builder.person_remarks(),
    )


def _russian(builder: _ListBuilder) -> bool:
    rng = builder.rng
    female = rng.random() < 0.25
    given = rng.choice(RUSSIAN_GIVEN_FEMALE if female else RUSSIAN_GIVEN_MALE)
    surname = rng.choice(RUSSIAN_SURNAMES)
    patronymic = rng.choice(RUSSIAN_PATRONYMICS) if rng.random() < 0.7 else None
    latin_surname = surname[0] + ("a" if female else "")
    cyrillic_surname = surname[2] + ("а" if female else "")
    latin_middle = f" {patronymic[1 if female else 0]}" if patronymic else ""
    cyrillic_middle = f" {patronymic[3 if female else 2]}" if patronymic else ""
    primary = f"{given[0]}{latin_middle} {latin_surname}"
    aliases: list[Alias] = [(f"{given[2]}{cyrillic_middle} {cyrillic_surname}", "strong", "cyrillic")]
    if given[1]:
        aliases.append((f"{rng.choice(given[1])} {latin_surname}", "strong", "latin"))
    else:
        aliases.append((f"{latin_surname.upper()}, {given[0]}", "strong", "latin"))
    if not female and rng.random() < 0.5:  # the French-style "-off" spelling of émigré records
        aliases.append((f"{given[0]} {rng.choice(surname[1])}", "weak", "latin"))
    return builder.add(
        "individual",
        primary,
        aliases,
        birth_dates=builder.birth_dates(),
        nationalities=builder.countries(RUSSIAN_COUNTRIES),
        remarks=builder.person_remarks(),
    )


def _chinese(builder: _ListBuilder) -> bool:
    rng = builder.rng
    surname = rng.choice(CHINESE_SURNAMES)
    given = rng.sample(CHINESE_GIVEN, rng.choice((1, 2, 2, 2)))
    return _add_chinese(builder, surname, given)


def _add_chinese(
    builder: _ListBuilder, surname: tuple[str, str, str, str], given: Sequence[tuple[str, str, str, str]]
) -> bool:
    rng = builder.rng
    simplified = surname[0] + "".join(part[0] for part in given)
    traditional = surname[1] + "".join(part[1] for part in given)
    syllables = [surname[2], *(part[2] for part in given)]
    # Phrase-level readings could differ between the two forms; keep only names where all three agree.
    if not lazy_pinyin(simplified) == lazy_pinyin(traditional) == syllables:
        return False
    given_pinyin = "".join(syllables[1:]).capitalize()
    primary = f"{surname[2].capitalize()} {given_pinyin}"
    aliases: list[Alias] = [(simplified, "strong", "han")]
    if traditional != simplified:
        aliases.append((traditional, "strong", "han"))
    aliases.append((f"{given_pinyin} {surname[2].capitalize()}", "strong", "latin"))
    countries = builder.countries(CHINESE_COUNTRIES)
    if "HK" in countries:  # Hong Kong records carry the Cantonese romanisation as well
        cantonese = "-".join(part[3] for part in given).capitalize()
        aliases.append((f"{surname[3]} {cantonese}", "weak", "latin"))
    if rng.random() < 0.3:
        aliases.append((f"{surname[2].upper()}, {given_pinyin}", "strong", "latin"))
    return builder.add(
        "individual",
        primary,
        aliases,
        birth_dates=builder.birth_dates(),
        nationalities=countries,
        remarks=builder.person_remarks(),
    )


def _entity(builder: _ListBuilder) -> bool:
    rng = builder.rng
    name, sector = rng.choice(ENTITY_NAMES), rng.choice(ENTITY_SECTORS)
    form, other_form = rng.sample(LEGAL_FORMS, 2)
    aliases: list[Alias] = [(f"{name} {sector} {other_form}", "strong", "latin")]
    if rng.random() < 0.4:  # a former name, as lists record after a front company renames itself
        aliases.append((f"{rng.choice(ENTITY_NAMES)} {sector} {form}", "strong", "latin"))
    initials = "".join(word[0] for word in f"{name} {sector}".replace("-", " ").split()).upper()
    aliases.append((f"{initials} {form}", "weak", "latin"))
    return builder.add(
        "entity",
        f"{name} {sector} {form}",
        aliases,
        nationalities=builder.countries(ENTITY_COUNTRIES),
        remarks=builder.entity_remarks(),
    )


def _russian_entity(builder: _ListBuilder) -> bool:
    latin, cyrillic = builder.rng.choice(RUSSIAN_ENTITIES)
    aliases: list[Alias] = [(f"OOO {latin}", "strong", "latin"), (f"ООО «{cyrillic}»", "strong", "cyrillic")]
    return builder.add(
        "entity",
        f"{latin} LLC",
        aliases,
        nationalities=builder.countries(RUSSIAN_COUNTRIES),
        remarks=builder.entity_remarks(),
    )


def _chinese_entity(builder: _ListBuilder) -> bool:
    rng = builder.rng
    name, sector = rng.choice(CHINESE_ENTITY_NAMES), rng.choice(CHINESE_ENTITY_SECTORS)
    simplified, traditional = f"{name[0]}{sector[0]}有限公司", f"{name[1]}{sector[1]}有限公司"
    if lazy_pinyin(name[0] + sector[0]) != lazy_pinyin(name[1] + sector[1]):
        return False
    aliases: list[Alias] = [
        (simplified, "strong", "han"),
        (traditional, "strong", "han"),
        (f"{name[3]} {sector[3]} Co., Ltd.", "strong", "latin"),
    ]
    return builder.add(
        "entity",
        f"{name[2]} {sector[2]} Co., Ltd.",
        aliases,
        nationalities=builder.countries(("CN", "HK")),
        remarks=builder.entity_remarks(),
    )


def _anchors(builder: _ListBuilder) -> None:
    """Add the fixed entries that the documentation and the tests name."""
    added = [
        _add_western(builder, "José", "Müller-Øberg"),
        _add_chinese(builder, CHINESE_SURNAMES[0], CHINESE_GIVEN[:2]),
        _add_arabic(builder, ARABIC_GIVEN[0], ARABIC_FAMILY[0], None),
    ]
    if not all(added):
        raise RuntimeError("an anchor entry was refused")


def build_list() -> SanctionsList:
    """Build the whole list from the fixed seed; the same code always gives the same list."""
    builder = _ListBuilder(random.Random(SEED))  # noqa: S311 (synthetic data, not security)
    _anchors(builder)
    builder.fill(62, _western)
    builder.fill(70, _arabic)
    builder.fill(55, _russian)
    builder.fill(65, _chinese)
    builder.fill(32, _entity)
    builder.fill(6, _russian_entity)
    builder.fill(12, _chinese_entity)
    return SanctionsList(version=VERSION, source="synthetic", entries=tuple(builder.entries))


def main() -> None:
    encoded = msgspec.json.format(msgspec.json.encode(build_list()), indent=2)
    OUTPUT.write_bytes(encoded + b"\n")


if __name__ == "__main__":
    main()
