"""The prose of every report says what its tables and figures show, under every value of its content parameters.

Each report's notebook runs in this process (tests/support/cells.py) with its defaults, with each other value of
each content parameter (every choice, both booleans, 'all', each single drug and a pair for `drugs`, another
level), and with the combinations that interact. Its prose is then read against what it shows:

- every trial named (trials.csv: names and ids) is among the trials shown;
- every drug named (trials.csv: drug) is among the drugs shown;
- every count of trials, arms, drugs, studies or reports, in digits or words ("two randomized trials",
  "1 trial", "5 of 7 trials"), equals the count shown, a qualifier taken from trials.csv ("phase III",
  "first-line", "randomized") narrowing what is counted;
- comparator wording ("X against Y", "HR X vs Y", "below 1 favours X") matches the hazard-ratio rows shown
  (experimental_arm, control_arm) and the trials' own arms.

Prose is read at three levels, each against what it speaks for: a table's title, population, column labels and
footnotes against its own rows; a figure's caption and alt text against what its axes draw; the report's prose
(the items it shows as text, and the notebook's Markdown cells) against everything the report shows. Nothing
expected is typed here: names, drugs, designs, phases, settings and arms are read from the data, and what is
shown from the tables' rows and the figures' artists.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from functools import cache

import pytest

from crizotinib_reports.evidence.analysis import newer_drugs
from crizotinib_reports.evidence.citations import short_citation
from crizotinib_reports.evidence.data import load_evidence
from crizotinib_reports.evidence.figures import ReportFigure
from crizotinib_reports.evidence.tables import ReportTable
from crizotinib_reports.paths import DATA_DIR
from crizotinib_reports.plain_text import ReportMarkdown
from crizotinib_reports.publish.portfolio import Parameter, Report, portfolio
from support.cells import drawn, markdown_cells, run_report

EXEMPT = {"data_dir"}  # where the data are read, not what is shown of them
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "both": 2}
NUMBER = rf"\d+|{'|'.join(NUMBER_WORDS)}"
NOUNS = {"trial arms": "arms", "trial arm": "arms", "trial": "trials", "trials": "trials", "arm": "arms", "arms": "arms", "drug": "drugs", "drugs": "drugs",
         "study": "studies", "studies": "studies", "report": "reports", "reports": "reports"}
# Words that may stand between a number and what it counts without changing what is counted ("6 trial arms").
NEUTRAL_WORDS = {"trial", "phase", "other", "section", "newer"}
HIDDEN_CLAUSE = re.compile(r"Not among the trials this report shows: ([^.]*)\.")


@cache
def evidence():
    return load_evidence(DATA_DIR)


# --- the cases: every value of every content parameter, and the combinations that interact -----------------

def content_parameters(report: Report) -> list[Parameter]:
    return [p for p in report.parameters if p.name not in EXEMPT and p.names_folder]


def values_of(parameter: Parameter) -> list[object]:
    """Every value worth reading the prose under, the default first, read from the parameter's own constraints."""
    if parameter.choices:
        return list(parameter.choices)
    if parameter.type == "bool":
        return [parameter.default, not parameter.default]
    if parameter.items is not None:
        drugs = list(parameter.items.allowed(getattr(evidence(), parameter.items.table).to_dict("records")))
        return ["all", *drugs, ",".join(drugs[:2])]
    if parameter.type == "float" and parameter.minimum is not None:
        return [parameter.default, round((parameter.minimum + parameter.default) / 2, 3)]
    raise AssertionError(f"no rule for the values of {parameter.name}; add one here")


# Parameters whose values change what another one shows (which trials, which sections): each pair meets in every
# combination of their values. Other parameters meet as the cycling below pairs them (the landscape's `analysis`
# meets 'all' and subsets of `drugs` that way).
INTERACTING = {"clinical_activity": (("setting", "include_single_arm"), ("setting", "show_pooled_orr"))}


def cases() -> list[tuple[str, dict]]:
    """Few runs that hold every value of every content parameter: run i takes each parameter's i-th value (cycling),
    then each interacting pair's missing combinations, merged into one run where they do not collide."""
    found = []
    for name, report in portfolio().items():
        values = {p.name: values_of(p) for p in content_parameters(report)}
        runs = [{k: v[i % len(v)] for k, v in values.items()} for i in range(max(map(len, values.values()), default=1))]
        added: list[dict] = []
        defaults = {k: report.parameter(k).default for k in values}
        for a, b in INTERACTING.get(name, ()):
            for x in values[a]:
                for y in values[b]:
                    if any({**defaults, **r}[a] == x and {**defaults, **r}[b] == y for r in runs + added):
                        continue
                    room = next((r for r in added if r.get(a) == x and b not in r), None)
                    if room is not None:
                        room[b] = y
                    else:
                        added.append({a: x, b: y})
        runs += [{**defaults, **r} for r in added]
        for run in runs:
            changed = {k: v for k, v in run.items() if k in values and v != report.parameter(k).default}
            if changed not in [v for n, v in found if n == name]:
                found.append((name, changed))
    return found


CASES = cases()
CASE_IDS = [f"{name}-" + ("-".join(f"{k}={v}" for k, v in values.items()) or "defaults") for name, values in CASES]


@cache
def shown_by(report: str, values: tuple) -> tuple:
    return tuple(run_report(report, **dict(values)))


def shown(report: str, values: dict) -> list:
    return list(shown_by(report, tuple(sorted(values.items()))))


# --- what the data call trials, drugs and arms ----------------------------------------------------------

def plain(text: object) -> str:
    """Text as a reader sees it: Markdown escapes removed, source labels (which may name a trial) taken out."""
    return without_sources(re.sub(r"\\(.)", r"\1", str(text)))


def without_sources(text: str) -> str:
    return source_labels().sub(" ", text)


@cache
def source_labels() -> re.Pattern:
    sources = evidence().sources
    labels = sorted({short_citation(sources, s) for s in sources["source_id"]}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, labels)))


def word(term: str) -> str:
    return rf"(?<![\w-]){re.escape(term)}(?![\w-])"


@cache
def trial_terms() -> tuple[re.Pattern, dict[str, str]]:
    """One pattern for every trial name and id of the data (longest first), and the id each stands for."""
    trials = evidence().trials
    ids = {**dict(zip(trials["trial_id"], trials["trial_id"])), **dict(zip(trials["trial_name"], trials["trial_id"]))}
    return re.compile("|".join(word(term) for term in sorted(ids, key=len, reverse=True))), ids


def named_trials(text: str) -> set[str]:
    """The trial ids a text names, by trial name (as written) or id."""
    pattern, ids = trial_terms()
    return {ids[found] for found in pattern.findall(text)}


def without_trials(text: str) -> str:
    """The text with each trial name replaced (so 'PROFILE 1007 crizotinib' counts nothing)."""
    return trial_terms()[0].sub("TRIAL", text)


@cache
def drugs_of_data() -> frozenset[str]:
    return frozenset(evidence().trials["drug"])


def subject_drugs() -> set[str]:
    """The drug the bundle is about (its own development trials'): every report may name it."""
    t = evidence().trials
    return set(t.loc[t["role"] == "development", "drug"])


def named_drugs(text: str) -> set[str]:
    return {d for d in drugs_of_data() if re.search(word(d), text, re.IGNORECASE)}


@cache
def arm_names() -> tuple[str, ...]:
    """Every name an arm goes by in the data: drugs, comparators, hazard-ratio arms (longest first)."""
    t, hr = evidence().trials, evidence().hazard_ratios
    names = set(t["drug"]) | set(t["comparator"]) | set(hr["experimental_arm"]) | set(hr["control_arm"])
    return tuple(sorted((n for n in names if n != "none"), key=len, reverse=True))


@cache
def arms_by_trial() -> tuple[dict[str, set], dict[str, set]]:
    """Each trial's hazard-ratio arms (experimental, control) and its own (drug, comparator)."""
    hr, t = evidence().hazard_ratios, evidence().trials
    by_hr, own = {}, {}
    for trial_id, e, c in zip(hr["trial_id"], hr["experimental_arm"], hr["control_arm"]):
        by_hr.setdefault(trial_id, set()).add((e, c))
    for trial_id, d, c in zip(t["trial_id"], t["drug"], t["comparator"]):
        own.setdefault(trial_id, set()).add((d, c))
    return by_hr, own


def hr_pairs_of_trials(trial_ids) -> set[tuple[str, str]]:
    return {pair for t in set(trial_ids) for pair in arms_by_trial()[0].get(t, ())}


def trial_pairs(trial_ids) -> set[tuple[str, str]]:
    return {pair for t in set(trial_ids) for pair in arms_by_trial()[1].get(t, ())}


@cache
def newer() -> frozenset[str]:
    return frozenset(newer_drugs(evidence()))


# --- what an item shows ---------------------------------------------------------------------------------

@dataclass
class Scope:
    """What some prose speaks for: the trials, drugs, arms, studies and hazard-ratio arms shown."""

    where: str
    trials: set[str] = field(default_factory=set)
    drugs: set[str] = field(default_factory=set)
    hr_pairs: set[tuple[str, str]] = field(default_factory=set)
    with_rows: set[str] | None = None  # trials with a result among the rows (for "5 of 7 trials")
    arms: set[tuple] | None = None
    studies: set[str] | None = None
    reports: int | None = None

    def pairs(self) -> set[tuple[str, str]]:
        return self.hr_pairs | trial_pairs(self.trials)


def is_bibliography(table: ReportTable) -> bool:
    """The references table lists publications (whose titles name drugs and trials), not evidence shown."""
    return table.data is not None and "authors" in table.data.columns


# A note that a table holds nothing for some trials ('No adverse-event percentage for A, B is in this bundle',
# 'no overall-survival result in this bundle for C') shows those trials, as empty.
NOTHING_FOR = re.compile(r"\bno\b[^.;]*\bin this bundle\b[^.;]*|\bnot in this bundle\b[^.;]*", re.IGNORECASE)


def table_scope(table: ReportTable) -> Scope:
    cells = "\n".join(plain(v) for column in table.frame.columns for v in table.frame[column].astype(str))
    data = table.data if table.data is not None else table.frame  # None: the frame is the numbers
    empty = {t for text in table_prose(table) for clause in NOTHING_FOR.findall(plain(text)) for t in named_trials(clause)}
    trials = named_trials(cells) | empty | (set(data["trial_id"].dropna()) if "trial_id" in data else set())
    with_rows = set(data["trial_id"].dropna()) if "trial_id" in data else set()
    if "trial_ids" in data:
        with_rows |= {t for ids in data["trial_ids"].dropna() for t in str(ids).split(";")}
    if {"experimental_arm", "control_arm"} <= set(data.columns):
        rows = data.dropna(subset=["experimental_arm", "control_arm"])
        hr_pairs = set(zip(rows["experimental_arm"], rows["control_arm"]))
    elif {"pfs_hr_experimental_arm", "pfs_hr_control_arm"} <= set(data.columns):
        hr_pairs = set(zip(data["pfs_hr_experimental_arm"], data["pfs_hr_control_arm"]))
    elif "hr_hazard_ratio" in data:
        hr_pairs = hr_pairs_of_trials(data.loc[data["hr_hazard_ratio"].notna(), "trial_id"])
    else:
        hr_pairs = set()
    if "trial_id" in data and "arm" in data:
        arms = set(zip(data["trial_id"], data["arm"]))
    elif "trial_id" in data:
        arms = {(t, None) for t in data["trial_id"]}
    else:
        arms = None
    studies = set(data["study"]) if "study" in data else None
    return Scope(f"table {table.name}", trials, named_drugs(cells) | drugs_of_trials(trials), hr_pairs,
                 with_rows & trials, arms, studies)


def figure_scope(figure: ReportFigure) -> Scope:
    texts = without_sources("\n".join(drawn(figure.figure)).replace("\\n", "\n"))  # tick labels break lines
    trials = named_trials(texts)
    return Scope(f"figure {figure.name}", trials, named_drugs(texts) | drugs_of_trials(trials),
                 hr_pairs_of_trials(trials))


def drugs_of_trials(trial_ids) -> set[str]:
    return {d for pair in trial_pairs(trial_ids) for d in pair} & drugs_of_data()


def report_scope(scopes: list[Scope], report: str) -> Scope:
    union = Scope(f"report {report}")
    for s in scopes:
        union.trials |= s.trials
        union.drugs |= s.drugs
        union.hr_pairs |= s.hr_pairs
    union.hr_pairs |= hr_pairs_of_trials(union.trials)
    union.reports = len(portfolio()) - 1  # a report lists the others of its bundle (the overview does)
    return union


# --- reading prose against what it speaks for -----------------------------------------------------------

def trial_problems(text: str, scope: Scope) -> list[str]:
    problems = []
    for line in text.splitlines():
        hidden = {t for clause in HIDDEN_CLAUSE.findall(line) for t in named_trials(clause)}
        if hidden & scope.trials:
            problems.append(f"{scope.where}: says {sorted(hidden & scope.trials)} are not shown, but they are: {line!r}")
        unshown = named_trials(HIDDEN_CLAUSE.sub(" ", line)) - scope.trials - hidden
        if unshown:
            problems.append(f"{scope.where}: names {sorted(unshown)}, not among the trials shown "
                            f"{sorted(scope.trials)}: {line!r}")
    return problems


def drug_problems(text: str, scope: Scope) -> list[str]:
    unshown = named_drugs(text) - scope.drugs - subject_drugs()
    return [f"{scope.where}: names {sorted(unshown)}, not among the drugs shown {sorted(scope.drugs)}: {text!r}"] \
        if unshown else []


NOUN = "|".join(sorted(NOUNS, key=len, reverse=True))
COUNT = re.compile(rf"(?<![\w.,=%/−-])(?P<n>{NUMBER})(?:\s+of\s+(?P<of>{NUMBER}))?\s+"
                   rf"(?P<words>(?:(?!(?:{NOUN})\b)[\w+-]+\s+){{0,3}})(?:(?P<noun>{NOUN})\b|(?P<list>\())",
                   re.IGNORECASE)


def number(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text.lower()]


def narrowed(trial_ids: set[str], words: list[str], by_drug: bool = True) -> set[str] | None:
    """The trials of the set that the qualifiers describe ('phase III', 'randomized', 'first-line', a drug), or
    None where a word is not one the data define (then the phrase is not a count of trials: 'one row a trial').
    Counting arms, a drug names the arm, not the trial (`by_drug=False`)."""
    attributes = trial_attributes()
    chosen = set(trial_ids)
    for w in words:
        lower = w.lower()
        if lower in NEUTRAL_WORDS or (not by_drug and lower in drugs_of_data()):
            continue
        column = next((c for c, by_trial in attributes.items() if lower in by_trial.values()), None)
        if column is None:
            return None
        chosen = {i for i in chosen if attributes[column].get(i) == lower}
    return chosen


@cache
def trial_attributes() -> dict[str, dict[str, str]]:
    """What a count may be narrowed by: each trial's design, phase, setting and drug (lower case)."""
    t = evidence().trials
    return {column: {i: str(v).lower() for i, v in zip(t["trial_id"], t[column])}
            for column in ("design", "phase", "setting", "drug")}


def count_problems(text: str, scope: Scope, hidden: set[str] = frozenset()) -> list[str]:
    problems = []
    for match in COUNT.finditer(text):
        words = match["words"].split()
        noun = NOUNS[match["noun"].lower()] if match["noun"] else "trials"
        if match["list"] and not words:
            continue  # '2 (...)': not a count of anything named
        if match["n"].lower() == "one" and not words and not match["of"]:
            continue  # 'one arm who later received ...': an article, not a count
        trials = narrowed(scope.trials | hidden, words, by_drug=noun != "arms")
        if trials is None:
            continue
        stated = number(match["n"])
        if match["of"]:
            if scope.with_rows is None:
                problems.append(f"{scope.where}: no rule for 'X of Y {noun}' here: {match[0]!r}")
                continue
            expected, total = len(narrowed(scope.with_rows, words)), len(trials)
            if (stated, number(match["of"])) != (expected, total):
                problems.append(f"{scope.where}: says {match[0]!r}, shows {expected} of {total}")
            continue
        if noun == "trials":
            expected = len(trials)
        elif noun == "arms" and scope.arms is not None:
            drugs = [w for w in words if w.lower() in drugs_of_data()]
            expected = len({a for a in scope.arms if a[0] in trials and (not drugs or a[1] in (None, *drugs))})
        elif noun == "drugs":
            expected = len({d for d in scope.drugs if "newer" not in words or d in newer()})
        elif noun == "studies" and scope.studies is not None:
            expected = len(scope.studies)
        elif noun == "reports" and scope.reports is not None:
            expected = scope.reports
        else:
            problems.append(f"{scope.where}: no rule to count {noun} here: {match[0]!r}")
            continue
        if stated != expected:
            problems.append(f"{scope.where}: says {match[0]!r}, shows {expected}")
    return problems


def comparator_problems(text: str, scope: Scope) -> list[str]:
    problems = []
    if not re.search(r"\b(?:against|vs|favours)\b", text, re.IGNORECASE):
        return []
    arms = "|".join(re.escape(a) for a in arm_names())
    lower = re.sub(r"the newer drugs? \(([^)]*)\)", r"\1", text.lower())
    listed = rf"(?:{arms})(?:(?:, | and | or |, and |, or )(?:{arms}))*"
    pairs = scope.pairs()
    for match in re.finditer(rf"(?P<hr>hazard ratios? of )?(?<![\w-])(?P<list>{listed}) against "
                             rf"(?P<control>{arms})(?![\w-])", lower):
        experimental = set(re.findall(arms, match["list"]))
        against = {e for e, c in (scope.hr_pairs if match["hr"] else pairs) if c == match["control"]}
        if experimental != against:
            problems.append(f"{scope.where}: says {match[0]!r}; shown against {match['control']}: {sorted(against)}")
    for match in re.finditer(rf"\bhr (?P<e>{arms}) vs (?P<c>{arms})\b", lower):
        if (match["e"], match["c"]) not in scope.hr_pairs:
            problems.append(f"{scope.where}: says {match[0]!r}; hazard ratios shown: {sorted(scope.hr_pairs)}")
    for match in re.finditer(rf"below 1 favours (?P<who>the newer drug|{arms})\b", lower):
        favoured = {e for e, c in scope.hr_pairs}
        if match["who"] == "the newer drug":
            ok = bool(favoured & newer())
        else:
            ok = match["who"] in favoured and match["who"] not in {c for e, c in scope.hr_pairs}
        if not ok:
            problems.append(f"{scope.where}: says {match[0]!r}; hazard ratios shown: {sorted(scope.hr_pairs)}")
    return problems


def prose_problems(text: str, scope: Scope) -> list[str]:
    text = plain(text)
    hidden = {t for clause in HIDDEN_CLAUSE.findall(text) for t in named_trials(clause)}
    return (trial_problems(text, scope) + drug_problems(HIDDEN_CLAUSE.sub(" ", text), scope)
            + [p for line in without_trials(text).splitlines() for p in count_problems(line, scope, hidden)]
            + comparator_problems(text, scope))


def table_prose(table: ReportTable) -> list[str]:
    return [table.title, table.population, *map(str, table.frame.columns), *table.footnotes]


def item_problems(items: list) -> list[str]:
    """Each table's and figure's own prose against what it shows."""
    problems = []
    for item in items:
        if isinstance(item, ReportTable) and not is_bibliography(item):
            scope = table_scope(item)
            problems += [p for text in table_prose(item) for p in prose_problems(text, scope)]
        elif isinstance(item, ReportFigure):
            scope = figure_scope(item)
            problems += [p for text in (item.caption, item.alt) for p in prose_problems(text, scope)]
    return problems


def report_problems(report: str, items: list) -> list[str]:
    """The report's own prose (shown as text, and the notebook's Markdown) against everything it shows."""
    scopes = [table_scope(i) for i in items if isinstance(i, ReportTable) and not is_bibliography(i)]
    scopes += [figure_scope(i) for i in items if isinstance(i, ReportFigure)]
    scope = report_scope(scopes, report)
    texts = [str(i) for i in items if isinstance(i, (ReportMarkdown, str))] + markdown_cells(report)
    return [p for text in texts for p in prose_problems(text, scope)]


# --- the tests ------------------------------------------------------------------------------------------

def test_every_report_and_every_value_is_read():
    names = {name for name, _ in CASES}
    assert names == set(portfolio())
    for name, report in portfolio().items():
        for parameter in content_parameters(report):
            for value in values_of(parameter):
                assert any(values.get(parameter.name, parameter.default) == value
                           for case, values in CASES if case == name), (name, parameter.name, value)
    for name, pairs in INTERACTING.items():
        report = portfolio()[name]
        runs = [{**report.defaults(), **values} for case, values in CASES if case == name]
        for a, b in pairs:
            assert {(r[a], r[b]) for r in runs} == {(x, y) for x in values_of(report.parameter(a))
                                                    for y in values_of(report.parameter(b))}, (a, b)
    drugs = [values["drugs"] for name, values in CASES if "drugs" in values]
    assert {d for d in drugs if "," not in d} >= set(newer_drugs(evidence())) and any("," in d for d in drugs)


@pytest.mark.parametrize(("report", "values"), CASES, ids=CASE_IDS)
def test_tables_and_figures_say_what_their_rows_and_drawings_show(report, values):
    items = shown(report, values)
    assert [i for i in items if isinstance(i, (ReportTable, ReportFigure))]
    assert item_problems(items) == []


@pytest.mark.parametrize(("report", "values"), CASES, ids=CASE_IDS)
def test_report_prose_says_what_the_report_shows(report, values):
    items = shown(report, values)
    assert [i for i in items if isinstance(i, (ReportMarkdown, str))] or markdown_cells(report)
    assert report_problems(report, items) == []


# --- the checks can fail --------------------------------------------------------------------------------

def test_a_typed_count_of_randomized_trials_is_caught_under_second_line():
    items = shown("clinical_activity", {"setting": "second-line", "show_pooled_orr": False})
    assert report_problems("clinical_activity", items) == []
    typed = items + [ReportMarkdown("The two randomized trials found crizotinib better than chemotherapy.")]
    assert report_problems("clinical_activity", typed) == [
        "report clinical_activity: says 'two randomized trials', shows 1"]


def test_a_typed_count_of_reports_and_a_hidden_trial_are_caught():
    items = shown("overview", {})
    assert report_problems("overview", items) == []
    landscape = evidence().trials[evidence().trials["role"] == "landscape"].iloc[0]
    typed = items + [ReportMarkdown(f"The three section reports follow; {landscape.trial_name} is among them.")]
    problems = report_problems("overview", typed)
    others = len(portfolio()) - 1
    assert others != 3 and len(problems) == 2, problems
    assert f"names ['{landscape.trial_id}'], not among the trials shown" in problems[0]
    assert problems[1] == f"report overview: says 'three section reports', shows {others}"


def test_a_table_note_naming_a_drug_or_direction_not_shown_is_caught():
    items = shown("alk_inhibitor_landscape", {"drugs": "lorlatinib"})
    (table,) = [i for i in items if isinstance(i, ReportTable) and i.name == "landscape"]
    assert item_problems([table]) == []
    wrong = [dataclasses.replace(table, footnotes=(*table.footnotes, note)) for note in (
        "HR, hazard ratio of alectinib against crizotinib; below 1 favours alectinib.",
        "HR, hazard ratio of crizotinib against lorlatinib; below 1 favours crizotinib.",
        "Randomized patients in 2 trials.")]
    found = [item_problems([t]) for t in wrong]
    assert all(found), found
    assert "alectinib" in found[0][0] and "'2 trials'" in found[2][0]
