"""A small Spider written by this project: same layout, same kinds of SQL, our own databases.

`write_sample_spider(out_dir, seed)` writes `tables.json`, `train_spider.json`, `dev.json`,
`train_gold.sql`, `dev_gold.sql` and `database/<db_id>/<db_id>.sqlite`, as the official
download does. Every database has a parent table and a child table with a foreign key; the
question templates cover projection, filters, aggregates, GROUP BY/HAVING, ORDER BY/LIMIT,
joins, nested queries and set operations. As in Spider, dev databases never appear in train.
Everything is a pure function of the seed.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .. import atomic


@dataclass(frozen=True)
class Table:
    name: str  # SQL table name
    singular: str  # how a question names one row
    plural: str
    key: str  # integer primary key
    label: str  # the text column naming a row (name, title, ...)
    label_values: tuple[str, ...]
    category: str  # a text column with few distinct values
    category_values: tuple[str, ...]
    number: str  # a numeric column, unique per row so ORDER BY has no ties
    number_range: tuple[int, int]


@dataclass(frozen=True)
class Domain:
    db_id: str
    parent: Table
    child: Table  # has a column named after parent.key referencing it
    split: str  # "train" or "dev"


def _t(name, singular, plural, key, label, labels, category, categories, number, lo, hi):
    return Table(name, singular, plural, key, label, tuple(labels.split()), category,
                 tuple(categories.split()), number, (lo, hi))


DOMAINS = (
    Domain("college", split="train",
           parent=_t("department", "department", "departments", "dept_id", "name",
                     "Physics Chemistry Biology History Music Economics Law Art",
                     "building", "North South East West", "budget", 100, 990),
           child=_t("instructor", "instructor", "instructors", "instructor_id", "name",
                    "Ada Bela Chen Dara Egon Fia Gus Hana Ivo Jun Kai Lia Moe Nia Oto Pia",
                    "rank", "Lecturer Professor Assistant", "salary", 40, 190)),
    Domain("music_label", split="train",
           parent=_t("artist", "artist", "artists", "artist_id", "name",
                     "Aurora Blaze Cobalt Delta Ember Flint Glow Halo",
                     "country", "France Brazil Japan Canada", "age", 19, 70),
           child=_t("album", "album", "albums", "album_id", "title",
                    "Dawn Echoes Fables Gravity Harbor Islands Journey Kites Lanterns Meadow "
                    "Nebula Oceans Prism Quartz Rivers Shadows",
                    "genre", "Rock Jazz Pop Folk", "year", 1960, 2023)),
    Domain("football_league", split="train",
           parent=_t("team", "team", "teams", "team_id", "name",
                     "Lions Hawks Wolves Bears Sharks Eagles Tigers Foxes",
                     "city", "Leeds Porto Lyon Turin", "founded", 1870, 1990),
           child=_t("player", "player", "players", "player_id", "name",
                    "Abel Bruno Cesar Dino Emil Felix Goran Hugo Igor Jonas Karl Luca Marco "
                    "Nilo Omar Pavel",
                    "position", "Goalkeeper Defender Midfielder Forward", "goals", 0, 60)),
    Domain("bookstore", split="train",
           parent=_t("author", "author", "authors", "author_id", "name",
                     "Achebe Borges Calvino Duras Eco Fontane Gogol Hesse",
                     "language", "English Spanish Italian German", "birth_year", 1800, 1990),
           child=_t("book", "book", "books", "book_id", "title",
                    "Atlas Bridges Castles Deserts Embers Forests Gardens Horizons Isles Jewels "
                    "Keys Letters Mirrors Nights Orchards Pilgrims",
                    "format", "Hardcover Paperback Ebook", "pages", 90, 900)),
    Domain("grocery_chain", split="train",
           parent=_t("store", "store", "stores", "store_id", "name",
                     "Central Riverside Hilltop Harbor Uptown Midtown Lakeside Parkview",
                     "region", "Coastal Inland Mountain", "floor_area", 200, 990),
           child=_t("product", "product", "products", "product_id", "name",
                    "Apples Bread Cheese Dates Eggs Flour Grapes Honey Juice Kale Lemons Milk "
                    "Noodles Olives Pears Rice",
                    "aisle", "Fresh Bakery Dairy Pantry", "price", 1, 99)),
    Domain("airline_ops", split="dev",
           parent=_t("airline", "airline", "airlines", "airline_id", "name",
                     "Aerona Boreal Cirrus Dorado Equinox Falcon Gemini Helios",
                     "alliance", "Star Sky One", "fleet_size", 10, 400),
           child=_t("flight", "flight", "flights", "flight_id", "code",
                    "AB101 AB202 CD303 CD404 EF505 EF606 GH707 GH808 IJ909 KL110 MN211 OP312 "
                    "QR413 ST514 UV615 WX716",
                    "destination", "Oslo Rome Cairo Lima", "distance", 300, 9000)),
    Domain("museum_visits", split="dev",
           parent=_t("museum", "museum", "museums", "museum_id", "name",
                     "Louvre Prado Uffizi Hermitage Tate Rijks Orsay Belvedere",
                     "city", "Paris Madrid Vienna London", "open_year", 1700, 2000),
           child=_t("exhibit", "exhibit", "exhibits", "exhibit_id", "title",
                    "Amber Bronze Canvas Dynasty Enamel Frescoes Glass Icons Jade Kimono "
                    "Lacquer Mosaic Nocturne Opal Pottery Relics",
                    "theme", "Ancient Modern Baroque", "visitors", 100, 9900)),
    Domain("farm_registry", split="dev",
           parent=_t("farm", "farm", "farms", "farm_id", "name",
                     "Greenacre Millbrook Oakridge Pinefield Redbarn Sunvale Willow Yarrow",
                     "county", "Kent Devon Essex", "acres", 50, 950),
           child=_t("animal", "animal", "animals", "animal_id", "tag",
                    "Bella Clover Daisy Ember Fern Ginger Hazel Ivy Juniper Kiwi Lily Maple "
                    "Nutmeg Olive Poppy Rosie",
                    "species", "Cow Goat Sheep Pig", "weight", 20, 900)),
)


# --------------------------------------------------------------------------- databases


def _rows(table: Table, n: int, rng: random.Random) -> list[dict]:
    labels = list(table.label_values[:n])
    rng.shuffle(labels)
    lo, hi = table.number_range
    numbers = rng.sample(range(lo, hi + 1), n)  # unique, so ORDER BY has no ties
    rows = []
    for i in range(n):
        # every category value appears at least once, the rest at random
        cat = table.category_values[i] if i < len(table.category_values) else rng.choice(table.category_values)
        rows.append({table.key: i + 1, table.label: labels[i], table.category: cat, table.number: numbers[i]})
    return rows


def _build_rows(domain: Domain, rng: random.Random) -> tuple[list[dict], list[dict]]:
    parents = _rows(domain.parent, len(domain.parent.label_values), rng)
    children = _rows(domain.child, len(domain.child.label_values), rng)
    # parents 1..k get children, the last two get none (so NOT IN has answers);
    # parent 1 gets one extra child so "the most" has a single answer
    with_children = [p[domain.parent.key] for p in parents[:-2]]
    for i, c in enumerate(children):
        c[domain.parent.key] = with_children[i % len(with_children)] if i < len(children) - 1 else with_children[0]
    return parents, children


def _create_sql(domain: Domain) -> list[str]:
    p, c = domain.parent, domain.child
    return [
        f"CREATE TABLE {p.name} ({p.key} INTEGER PRIMARY KEY, {p.label} TEXT, {p.category} TEXT, {p.number} INTEGER)",
        f"CREATE TABLE {c.name} ({c.key} INTEGER PRIMARY KEY, {c.label} TEXT, {c.category} TEXT, "
        f"{c.number} INTEGER, {p.key} INTEGER REFERENCES {p.name}({p.key}))",
    ]


def _write_database(path: Path, domain: Domain, parents: list[dict], children: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    for stmt in _create_sql(domain):
        con.execute(stmt)
    for table, rows in ((domain.parent, parents), (domain.child, children)):
        cols = list(rows[0])
        con.executemany(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        [tuple(r[k] for k in cols) for r in rows])
    con.commit()
    con.close()
    tmp.replace(path)


def _tables_json_entry(domain: Domain) -> dict:
    p, c = domain.parent, domain.child
    tables = [(p.name, [p.key, p.label, p.category, p.number]), (c.name, [c.key, c.label, c.category, c.number, p.key])]
    columns, types, pks = [[-1, "*"]], ["text"], []
    index = {}
    for t_idx, (tname, cols) in enumerate(tables):
        for col in cols:
            index[(tname, col)] = len(columns)
            if col == cols[0]:
                pks.append(len(columns))
            columns.append([t_idx, col])
            is_text = col in (p.label, p.category, c.label, c.category)
            types.append("text" if is_text else "number")
    return {
        "db_id": domain.db_id,
        "table_names_original": [t for t, _ in tables],
        "table_names": [t.replace("_", " ") for t, _ in tables],
        "column_names_original": columns,
        "column_names": [[t, n.replace("_", " ")] for t, n in columns],
        "column_types": types,
        "primary_keys": pks,
        "foreign_keys": [[index[(c.name, p.key)], index[(p.name, p.key)]]],
    }


# --------------------------------------------------------------------------- questions


def _words(column: str) -> str:
    return column.replace("_", " ")


def _single_table_questions(t: Table, rows: list[dict], rng: random.Random) -> list[tuple[str, str]]:
    n, c, x = t.label, t.category, t.number
    nw, cw, xw = _words(n), _words(c), _words(x)
    numbers = sorted(r[x] for r in rows)
    v = numbers[len(numbers) // 2]
    v_low = numbers[len(numbers) // 3]
    cat = rng.choice(sorted({r[c] for r in rows}))
    # AND / INTERSECT questions take a category that has an answer, so no gold result is empty
    cat_low = min(rows, key=lambda r: r[x])[c]
    cat_high = max(rows, key=lambda r: r[x])[c]
    k = rng.choice([2, 3])
    sub = rng.choice(sorted(r[n] for r in rows))[:2]
    T = t.name
    return [
        (f"How many {t.plural} are there?", f"SELECT count(*) FROM {T}"),
        (f"List the {nw} of all {t.plural}.", f"SELECT {n} FROM {T}"),
        (f"Show the {nw} and {xw} of every {t.singular}.", f"SELECT {n}, {x} FROM {T}"),
        (f"Which {t.plural} have a {xw} greater than {v}? Give their {nw}.", f"SELECT {n} FROM {T} WHERE {x} > {v}"),
        (f"Find the {nw} of {t.plural} whose {cw} is {cat}.", f"SELECT {n} FROM {T} WHERE {c} = '{cat}'"),
        (f"How many {t.plural} have {cw} {cat}?", f"SELECT count(*) FROM {T} WHERE {c} = '{cat}'"),
        (f"What is the average {xw} of all {t.plural}?", f"SELECT avg({x}) FROM {T}"),
        (f"What is the largest {xw} among {t.plural}?", f"SELECT max({x}) FROM {T}"),
        (f"What are the smallest and the total {xw} of {t.plural}?", f"SELECT min({x}), sum({x}) FROM {T}"),
        (f"How many {t.plural} are there for each {cw}?", f"SELECT {c}, count(*) FROM {T} GROUP BY {c}"),
        (f"Which {cw} values are shared by at least {k} {t.plural}?",
         f"SELECT {c} FROM {T} GROUP BY {c} HAVING count(*) >= {k}"),
        (f"What is the {nw} of the {t.singular} with the highest {xw}?",
         f"SELECT {n} FROM {T} ORDER BY {x} DESC LIMIT 1"),
        (f"List the {nw} of {t.plural} ordered by {xw} from lowest to highest.",
         f"SELECT {n} FROM {T} ORDER BY {x} ASC"),
        (f"Show the {nw} of the {k} {t.plural} with the lowest {xw}.", f"SELECT {n} FROM {T} ORDER BY {x} ASC LIMIT {k}"),
        (f"Which {t.plural} have a {xw} above the average? List their {nw}.",
         f"SELECT {n} FROM {T} WHERE {x} > (SELECT avg({x}) FROM {T})"),
        (f"How many different {cw} values do the {t.plural} have?", f"SELECT count(DISTINCT {c}) FROM {T}"),
        (f"Which {t.plural} have {cw} {cat} or a {xw} above {v}? Give their {nw}.",
         f"SELECT {n} FROM {T} WHERE {c} = '{cat}' OR {x} > {v}"),
        (f"Which {t.plural} have {cw} {cat_low} and a {xw} below {v}? Give their {nw}.",
         f"SELECT {n} FROM {T} WHERE {c} = '{cat_low}' AND {x} < {v}"),
        (f"Which {t.plural} have a {nw} starting with '{sub}'?", f"SELECT {n} FROM {T} WHERE {n} LIKE '{sub}%'"),
        (f"Give the {nw} of {t.plural} with {cw} {cat}, together with those whose {xw} is below {v_low}.",
         f"SELECT {n} FROM {T} WHERE {c} = '{cat}' UNION SELECT {n} FROM {T} WHERE {x} < {v_low}"),
        (f"Give the {nw} of {t.plural} that both have {cw} {cat_high} and a {xw} above {v_low}.",
         f"SELECT {n} FROM {T} WHERE {c} = '{cat_high}' INTERSECT SELECT {n} FROM {T} WHERE {x} > {v_low}"),
        (f"Give the {nw} of {t.plural} with {cw} {cat}, except those whose {xw} is above {v}.",
         f"SELECT {n} FROM {T} WHERE {c} = '{cat}' EXCEPT SELECT {n} FROM {T} WHERE {x} > {v}"),
    ]


def _join_questions(d: Domain, parents: list[dict], children: list[dict], rng: random.Random) -> list[tuple[str, str]]:
    p, c = d.parent, d.child
    k = p.key
    owners = sorted({ch[k] for ch in children})
    owner_key = rng.choice(owners)
    owner = next(r[p.label] for r in parents if r[k] == owner_key)
    pcat = rng.choice(sorted({r[p.category] for r in parents}))
    join = f"FROM {p.name} AS T1 JOIN {c.name} AS T2 ON T1.{k} = T2.{k}"
    pn, cn = _words(p.label), _words(c.label)
    return [
        (f"List the {cn} of {c.plural} belonging to the {p.singular} {owner}.",
         f"SELECT T2.{c.label} {join} WHERE T1.{p.label} = '{owner}'"),
        (f"For each {p.singular}, show its {pn} and the number of {c.plural}.",
         f"SELECT T1.{p.label}, count(*) {join} GROUP BY T1.{k}"),
        (f"Which {p.plural} have no {c.plural}? Give their {pn}.",
         f"SELECT {p.label} FROM {p.name} WHERE {k} NOT IN (SELECT {k} FROM {c.name})"),
        (f"Which {p.singular} has the most {c.plural}? Give its {pn}.",
         f"SELECT T1.{p.label} {join} GROUP BY T1.{k} ORDER BY count(*) DESC LIMIT 1"),
        (f"Show the {cn} of every {c.singular} together with the {pn} of its {p.singular}.",
         f"SELECT T2.{c.label}, T1.{p.label} {join}"),
        (f"How many {c.plural} belong to {p.plural} whose {_words(p.category)} is {pcat}?",
         f"SELECT count(*) {join} WHERE T1.{p.category} = '{pcat}'"),
        (f"What is the average {_words(c.number)} of {c.plural} for each {p.singular} {pn}?",
         f"SELECT T1.{p.label}, avg(T2.{c.number}) {join} GROUP BY T1.{k}"),
        (f"Which {p.plural} have more than 2 {c.plural}? Give their {pn}.",
         f"SELECT T1.{p.label} {join} GROUP BY T1.{k} HAVING count(*) > 2"),
    ]


def domain_questions(domain: Domain, parents: list[dict], children: list[dict], seed: int) -> list[dict]:
    rng = random.Random(f"{seed}:{domain.db_id}:questions")
    pairs = (_single_table_questions(domain.parent, parents, rng)
             + _single_table_questions(domain.child, children, rng)
             + _join_questions(domain, parents, children, rng))
    return [{"db_id": domain.db_id, "question": q, "query": sql} for q, sql in pairs]


def write_sample_spider(out_dir: str | Path, seed: int = 0, train_per_db: int | None = None,
                        dev_per_db: int | None = None) -> dict:
    """Write the sample Spider under `out_dir`; return counts. `*_per_db` caps questions per database."""
    out = Path(out_dir)
    tables, splits = [], {"train": [], "dev": []}
    for domain in DOMAINS:
        rng = random.Random(f"{seed}:{domain.db_id}:rows")
        parents, children = _build_rows(domain, rng)
        _write_database(out / "database" / domain.db_id / f"{domain.db_id}.sqlite", domain, parents, children)
        tables.append(_tables_json_entry(domain))
        questions = domain_questions(domain, parents, children, seed)
        random.Random(f"{seed}:{domain.db_id}:order").shuffle(questions)
        cap = train_per_db if domain.split == "train" else dev_per_db
        splits[domain.split].extend(questions[:cap] if cap else questions)
    atomic.write_json(out / "tables.json", tables)
    atomic.write_json(out / "train_spider.json", splits["train"])
    atomic.write_json(out / "dev.json", splits["dev"])
    for name, split in (("train_gold.sql", "train"), ("dev_gold.sql", "dev")):
        atomic.write_text(out / name, "".join(f"{q['query']}\t{q['db_id']}\n" for q in splits[split]))
    return {"train": len(splits["train"]), "dev": len(splits["dev"]), "databases": len(DOMAINS)}

