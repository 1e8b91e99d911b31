"""A small multiple-choice set in MMLU's CSV layout, written for this project (no MMLU text).

Nine subjects named as in MMLU, so the MMLU category map applies: three each for STEM, humanities
and social sciences. Questions come from fact tables written here; the three distractors are
other answers from the same table, and the position of the right answer is drawn from the seed.
`data.write_sample_mmlu(out_dir, seed)` writes `dev/<subject>_dev.csv` (5 rows: the few-shot pool) and
`test/<subject>_test.csv` (the rest): no header, columns question, A, B, C, D, answer.
"""

from __future__ import annotations

import random


ELEMENTS = [  # (name, symbol, atomic number or None)
    ("hydrogen", "H", 1), ("helium", "He", 2), ("lithium", "Li", 3), ("beryllium", "Be", 4), ("boron", "B", 5),
    ("carbon", "C", 6), ("nitrogen", "N", 7), ("oxygen", "O", 8), ("fluorine", "F", 9), ("neon", "Ne", 10),
    ("sodium", "Na", 11), ("magnesium", "Mg", 12), ("aluminium", "Al", 13), ("silicon", "Si", 14),
    ("phosphorus", "P", 15), ("sulfur", "S", 16), ("chlorine", "Cl", 17), ("argon", "Ar", 18),
    ("potassium", "K", 19), ("calcium", "Ca", 20), ("iron", "Fe", None), ("copper", "Cu", None),
    ("zinc", "Zn", None), ("silver", "Ag", None), ("tin", "Sn", None), ("gold", "Au", None),
    ("mercury", "Hg", None), ("lead", "Pb", None), ("iodine", "I", None), ("nickel", "Ni", None),
]

PLANETS = ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]
ASTRONOMY_FACTS = [
    ("Which planet is the largest in the Solar System?", "Jupiter"),
    ("Which planet is often called the Red Planet?", "Mars"),
    ("Which planet has the most prominent ring system?", "Saturn"),
    ("Which planet is closest to the Sun?", "Mercury"),
    ("Which planet is farthest from the Sun?", "Neptune"),
    ("Which planet rotates on its side, with an axial tilt of about 98 degrees?", "Uranus"),
    ("Which planet is the hottest, because of its thick carbon dioxide atmosphere?", "Venus"),
    ("On which planet do we live?", "Earth"),
]

SCRIPTURES = [("Christianity", "the Bible"), ("Islam", "the Quran"), ("Judaism", "the Torah"),
              ("Hinduism", "the Vedas"), ("Sikhism", "the Guru Granth Sahib"), ("Zoroastrianism", "the Avesta"),
              ("Buddhism", "the Tripitaka"), ("Taoism", "the Tao Te Ching")]
PLACES_OF_WORSHIP = [("Islam", "a mosque"), ("Judaism", "a synagogue"), ("Sikhism", "a gurdwara"),
                     ("Christianity", "a church"), ("Hinduism", "a mandir")]
FOUNDERS = [("Sikhism", "Guru Nanak"), ("Buddhism", "Siddhartha Gautama"), ("Taoism", "Laozi"),
            ("Zoroastrianism", "Zoroaster"), ("Lutheranism", "Martin Luther"), ("Methodism", "John Wesley")]

WORKS = [
    ("The Republic", "Plato"), ("Nicomachean Ethics", "Aristotle"), ("Meditations on First Philosophy", "Descartes"),
    ("Critique of Pure Reason", "Kant"), ("Leviathan", "Hobbes"), ("The Social Contract", "Rousseau"),
    ("Thus Spoke Zarathustra", "Nietzsche"), ("Being and Time", "Heidegger"), ("Utilitarianism", "John Stuart Mill"),
    ("An Essay Concerning Human Understanding", "Locke"), ("The Prince", "Machiavelli"),
    ("Summa Theologica", "Thomas Aquinas"), ("Tractatus Logico-Philosophicus", "Wittgenstein"),
    ("A Treatise of Human Nature", "Hume"), ("Phenomenology of Spirit", "Hegel"), ("Confessions", "Augustine"),
    ("The Second Sex", "Simone de Beauvoir"), ("Fear and Trembling", "Kierkegaard"),
    ("Being and Nothingness", "Sartre"), ("The Wealth of Nations", "Adam Smith"),
]

EVENTS = [
    ("the Western Roman Empire fall, when Romulus Augustulus was deposed", 476),
    ("the Normans conquer England at the Battle of Hastings", 1066), ("King John seal the Magna Carta", 1215),
    ("Constantinople fall to the Ottoman Empire", 1453), ("Columbus first reach the Americas", 1492),
    ("Martin Luther publish his Ninety-five Theses", 1517), ("the Spanish Armada sail against England", 1588),
    ("the United States declare independence", 1776), ("the French Revolution begin with the storming of the Bastille", 1789),
    ("the Battle of Waterloo take place", 1815), ("the First World War begin", 1914),
    ("the Russian Revolution take place", 1917), ("the Treaty of Versailles get signed", 1919),
    ("the Second World War end", 1945), ("India gain independence from Britain", 1947),
    ("the People's Republic of China get proclaimed", 1949), ("Apollo 11 land on the Moon", 1969),
    ("the Berlin Wall fall", 1989), ("the Soviet Union dissolve", 1991),
]

CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
    ("Japan", "Tokyo"), ("China", "Beijing"), ("India", "New Delhi"), ("Canada", "Ottawa"),
    ("Australia", "Canberra"), ("Brazil", "Brasilia"), ("Argentina", "Buenos Aires"), ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"), ("Russia", "Moscow"), ("Mexico", "Mexico City"), ("Turkey", "Ankara"),
    ("Greece", "Athens"), ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Poland", "Warsaw"), ("Peru", "Lima"),
    ("Chile", "Santiago"), ("South Korea", "Seoul"), ("Thailand", "Bangkok"), ("Nigeria", "Abuja"),
    ("Ireland", "Dublin"), ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Finland", "Helsinki"),
]

ECONOMICS = [
    ("a sustained increase in the general price level", "inflation"),
    ("a sustained decrease in the general price level", "deflation"),
    ("the total market value of all final goods and services produced in a country in a year",
     "gross domestic product"),
    ("a significant decline in economic activity lasting months, often two quarters of falling real GDP", "recession"),
    ("the share of the labor force that is jobless and looking for work", "the unemployment rate"),
    ("a central bank's management of interest rates and the money supply", "monetary policy"),
    ("the government's use of taxation and spending to influence the economy", "fiscal policy"),
    ("a tax on imported goods", "a tariff"),
    ("a legal limit on the quantity of a good that may be imported", "an import quota"),
    ("a year in which government spending exceeds government revenue", "a budget deficit"),
    ("a market with a single seller and no close substitutes", "a monopoly"),
    ("a market dominated by a few large sellers", "an oligopoly"),
    ("the value of the best alternative given up when making a choice", "opportunity cost"),
    ("the price at which quantity supplied equals quantity demanded", "the equilibrium price"),
    ("how strongly quantity demanded responds to a change in price", "price elasticity of demand"),
    ("the rate at which one currency can be exchanged for another", "the exchange rate"),
]

SOCIOLOGY = [
    ("the process by which people learn the norms and values of their society", "socialization"),
    ("shared rules or expectations that guide behaviour in a group", "social norms"),
    ("the ranking of groups of people in a hierarchy of wealth, power and prestige", "social stratification"),
    ("the growth of the share of a population living in cities", "urbanization"),
    ("an organization run by officials following fixed rules and a hierarchy of authority", "a bureaucracy"),
    ("judging other cultures by the standards of one's own culture", "ethnocentrism"),
    ("behaviour that violates the norms of a society", "deviance"),
    ("the movement of individuals between positions in a social hierarchy", "social mobility"),
    ("a household of two parents and their children", "a nuclear family"),
    ("the belief that all cultures should be understood on their own terms", "cultural relativism"),
    ("a group to which a person feels they belong", "an in-group"),
    ("the roles and behaviours a society considers appropriate for men and women", "gender roles"),
]


def _choices(right: str, pool: list[str], rng: random.Random) -> tuple[list[str], str]:
    wrong = rng.sample(sorted({p for p in pool if p != right}), 3)
    position = rng.randrange(4)
    options = wrong[:position] + [right] + wrong[position:]
    return options, "ABCD"[position]


def _from_pairs(items: list[tuple[str, str]], template: str, rng: random.Random) -> list[tuple]:
    pool = [b for _, b in items]
    return [(template.format(a), *_choices(b, pool, rng)) for a, b in items]


def _arithmetic(rng: random.Random, n: int) -> list[tuple]:
    out = []
    for _ in range(n):
        a, b = rng.randint(11, 99), rng.randint(2, 49)
        op = rng.choice("+-*")
        right = a + b if op == "+" else a - b if op == "-" else a * b
        wrong = {right + d for d in (-10, -2, -1, 1, 2, 10)} - {right}
        options, letter = _choices(str(right), [str(w) for w in wrong] + [str(right)], rng)
        out.append((f"What is {a} {op} {b}?", options, letter))
    return out


def subjects(seed: int = 0) -> dict[str, list[tuple]]:
    """subject -> [(question, [A, B, C, D], letter)], the first five being the few-shot pool."""
    rng = random.Random(f"{seed}:mmlu-sample")
    symbols = [(e, s) for e, s, _ in ELEMENTS]
    numbers = [(str(n), e) for e, _, n in ELEMENTS if n]
    chemistry = (_from_pairs(symbols, "What is the chemical symbol of {}?", rng)
                 + _from_pairs(numbers, "Which element has atomic number {}?", rng))
    astronomy = (_from_pairs(list(zip(ORDINALS, PLANETS)), "Which planet is the {} planet from the Sun?", rng)
                 + [(q, *_choices(a, PLANETS, rng)) for q, a in ASTRONOMY_FACTS])
    religions = sorted({r for r, _ in SCRIPTURES + PLACES_OF_WORSHIP + FOUNDERS})
    world_religions = (_from_pairs(SCRIPTURES, "What is the central sacred text of {}?", rng)
                       + [(f"Which religion's followers worship in {p}?", *_choices(r, religions, rng))
                          for r, p in PLACES_OF_WORSHIP]
                       + _from_pairs(FOUNDERS, "Who is regarded as the founder of {}?", rng))
    years = [str(y) for _, y in EVENTS]
    history = [(f"In which year did {e}?", *_choices(str(y), years, rng)) for e, y in EVENTS]
    table = {
        "elementary_mathematics": _arithmetic(rng, 30),
        "high_school_chemistry": chemistry,
        "astronomy": astronomy,
        "world_religions": world_religions,
        "philosophy": _from_pairs(WORKS, "Who wrote {}?", rng),
        "high_school_world_history": history,
        "high_school_geography": _from_pairs(CAPITALS, "What is the capital of {}?", rng),
        "high_school_macroeconomics": _from_pairs(ECONOMICS, "Which term describes {}?", rng),
        "sociology": _from_pairs(SOCIOLOGY, "Which sociological term describes {}?", rng),
    }
    for rows in table.values():
        random.Random(f"{seed}:order:{rows[0][0]}").shuffle(rows)
    return table
