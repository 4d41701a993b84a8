"""The loader: files, folders and stdin into documents with 1-based spans; abusive YAML refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rbgc.diagnostics import Diagnostic, DiagnosticError, Span
from rbgc.inputs import load
from rbgc.source import MAX_FILE_BYTES, Document, expand_paths, parse_text, read_path

HEAD = "apiVersion: v1\nkind: ConfigMap\n"


def problems(text: str, path: str = "x.yaml") -> tuple[Diagnostic, ...]:
    with pytest.raises(DiagnosticError) as caught:
        parse_text(text, path)
    return caught.value.diagnostics


def only(text: str, path: str = "x.yaml") -> Diagnostic:
    (found,) = problems(text, path)
    return found


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def config_map(name: str) -> str:
    return f"{HEAD}metadata:\n  name: {name}\n"


# -- inputs ---------------------------------------------------------------------------------


def test_file_with_several_documents_and_empty_ones(tmp_path: Path) -> None:
    f = write(
        tmp_path / "m.yaml", "---\n" + config_map("a") + "---\n---\n" + config_map("b") + "---\n"
    )
    docs = load([str(f)])
    assert [d.body["metadata"]["name"] for d in docs] == ["a", "b"]
    assert [d.index for d in docs] == [0, 2]
    assert {d.path for d in docs} == {str(f)}
    assert docs[1].span() == Span(str(f), 8, 1)


def test_comment_only_file_has_no_documents(tmp_path: Path) -> None:
    f = write(tmp_path / "c.yaml", "# nothing here\n---\n# nor here\n")
    assert load([str(f)]) == []


def test_folder_is_read_recursively_sorted_and_skips_hidden_entries(tmp_path: Path) -> None:
    for rel in (
        "b.yaml",
        "a.yml",
        "notes.txt",
        "kustomization.json",
        ".hidden.yaml",
        ".git/config.yaml",
        "sub/d.yaml",
        "sub/c.yaml",
        "sub/.cache/e.yaml",
        "a-dir/z.yaml",
    ):
        write(tmp_path / rel, config_map(Path(rel).stem.strip(".")))
    root = str(tmp_path)
    # Per folder: its files in name order, then its subfolders in name order.
    assert expand_paths([root]) == [
        f"{root}/a.yml",
        f"{root}/b.yaml",
        f"{root}/a-dir/z.yaml",
        f"{root}/sub/c.yaml",
        f"{root}/sub/d.yaml",
    ]
    assert [d.body["metadata"]["name"] for d in load([root])] == ["a", "b", "z", "c", "d"]


def test_named_files_keep_the_given_order_and_any_suffix(tmp_path: Path) -> None:
    b = write(tmp_path / "b.txt", config_map("b"))
    a = write(tmp_path / "a.yaml", config_map("a"))
    assert expand_paths([str(b), str(a)]) == [str(b), str(a)]
    assert [d.body["metadata"]["name"] for d in load([str(b), str(a)])] == ["b", "a"]


def test_stdin_is_read_for_dash() -> None:
    stdin = io.BytesIO((config_map("from-stdin") + "---\n" + config_map("two")).encode())
    docs = load(["-"], stdin=stdin)
    assert [(d.path, d.index, d.body["metadata"]["name"]) for d in docs] == [
        ("-", 0, "from-stdin"),
        ("-", 1, "two"),
    ]


def test_stdin_problems_are_located_in_dash() -> None:
    stdin = io.BytesIO(b"apiVersion: v1\nkind: ConfigMap\nkind: Secret\n")
    with pytest.raises(DiagnosticError) as caught:
        load(["-"], stdin=stdin)
    (found,) = caught.value.diagnostics
    assert (found.code, found.span) == ("RBG002", Span("-", 3, 1))


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    f = tmp_path / "bom.yaml"
    f.write_bytes(b"\xef\xbb\xbf" + config_map("café").encode())
    (doc,) = read_path(str(f))
    assert doc.body == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "café"}}
    assert doc.span("apiVersion", key=True) == Span(str(f), 1, 1)
    assert doc.span("metadata", "name") == Span(str(f), 4, 9)


# -- spans ----------------------------------------------------------------------------------

SPANNED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: spans
  labels: {app: web, tier: "1"}
data:
  list:
    - first
    -   second
    - nested:
        deep: true
  flow: [a, b]
"""


@pytest.fixture
def spanned() -> Document:
    (doc,) = parse_text(SPANNED, "s.yaml")
    return doc


@pytest.mark.parametrize(
    ("jpath", "line", "col"),
    [
        ((), 1, 1),
        (("apiVersion",), 1, 13),
        (("metadata",), 4, 3),
        (("metadata", "name"), 4, 9),
        (("metadata", "labels"), 5, 11),
        (("metadata", "labels", "app"), 5, 17),
        (("metadata", "labels", "tier"), 5, 28),
        (("data", "list"), 8, 5),
        (("data", "list", 0), 8, 7),
        (("data", "list", 1), 9, 9),
        (("data", "list", 2), 10, 7),
        (("data", "list", 2, "nested", "deep"), 11, 15),
        (("data", "flow", 1), 12, 13),
    ],
)
def test_value_spans(spanned: Document, jpath: tuple[str | int, ...], line: int, col: int) -> None:
    assert spanned.span(*jpath) == Span("s.yaml", line, col)


@pytest.mark.parametrize(
    ("jpath", "line", "col"),
    [
        (("apiVersion",), 1, 1),
        (("metadata",), 3, 1),
        (("metadata", "name"), 4, 3),
        (("metadata", "labels", "tier"), 5, 22),
        (("data", "list", 2, "nested"), 10, 7),
        (("data", "list", 2, "nested", "deep"), 11, 9),
        (("data", "flow"), 12, 3),
    ],
)
def test_key_spans(spanned: Document, jpath: tuple[str | int, ...], line: int, col: int) -> None:
    assert spanned.span(*jpath, key=True) == Span("s.yaml", line, col)


def test_span_of_a_missing_path_is_its_nearest_ancestor(spanned: Document) -> None:
    assert spanned.span("metadata", "labels", "missing") == Span("s.yaml", 5, 11)
    assert spanned.span("data", "list", 7) == Span("s.yaml", 8, 5)
    assert spanned.span("nothing", key=True) == Span("s.yaml", 1, 1)


def test_values_are_plain_json_shapes(spanned: Document) -> None:
    assert spanned.body["metadata"]["labels"] == {"app": "web", "tier": "1"}
    assert spanned.body["data"]["list"] == ["first", "second", {"nested": {"deep": True}}]
    (doc,) = parse_text(HEAD + "data:\n  when: 2024-01-02\n  n: 0x10\n  f: 1.5\n  z: ~\n", "t.yaml")
    # Timestamps stay the text the user wrote; JSON has no timestamp type.
    assert doc.body["data"] == {"when": "2024-01-02", "n": 16, "f": 1.5, "z": None}


# -- merge keys -----------------------------------------------------------------------------


def test_merge_key_explicit_keys_win() -> None:
    (doc,) = parse_text(HEAD + "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\n", "m.yaml")
    assert doc.body["m"] == {"x": 3, "y": 2}
    assert doc.span("m", "x") == Span("m.yaml", 6, 6)


def test_merge_key_earlier_sources_win_over_later_ones() -> None:
    text = HEAD + "b1: &b1 {x: 1}\nb2: &b2 {x: 2, z: 5}\nm:\n  <<: [*b1, *b2]\n"
    (doc,) = parse_text(text, "m.yaml")
    assert doc.body["m"] == {"x": 1, "z": 5}


def test_merge_key_needs_a_mapping() -> None:
    found = only(HEAD + "m:\n  <<: 5\n")
    assert (found.code, found.span) == ("RBG001", Span("x.yaml", 4, 7))
    assert found.message == "a `<<` merge key needs a mapping or a list of mappings"


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "col", "tag"),
    [
        ("!!python/object/apply:os.system ['id']", 4, "python/object/apply:os.system"),
        ("!Ref ModelBucket", 4, "!Ref"),
        ("!!binary aGVsbG8=", 4, "binary"),
        ("!!set {a, b}", 4, "set"),
        ("!!omap [a: 1]", 4, "omap"),
        ("[1, !!python/name:os.system x]", 8, "python/name:os.system"),
    ],
)
def test_custom_tags_are_refused(value: str, col: int, tag: str) -> None:
    found = only(HEAD + f"x: {value}\n")
    assert (found.code, found.span) == ("RBG003", Span("x.yaml", 3, col))
    assert found.message.startswith("unsupported YAML tag ")
    assert tag in found.message
    assert found.help is not None and "remove the tag" in found.help


def test_tagged_document_is_not_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = HEAD + f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    assert [d.code for d in problems(text)] == ["RBG003"]
    assert not marker.exists()


def test_billion_laughs_is_refused() -> None:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):  # 10**10 values once expanded
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    found = only(HEAD + "\n".join(lines) + "\n")
    assert found.code == "RBG005"
    assert found.message == "document 1 has aliases that expand to more than 100,000 values"
    assert found.span is not None and found.span.path == "x.yaml"
    assert 3 <= found.span.line <= 12


def test_a_large_document_without_aliases_is_not_capped_by_the_alias_limit() -> None:
    items = ", ".join(str(i) for i in range(150_000))
    (doc,) = parse_text(HEAD + f"data: [{items}]\n", "x.yaml")
    assert len(doc.body["data"]) == 150_000


def test_moderate_aliases_are_expanded() -> None:
    (doc,) = parse_text(HEAD + "a: &a {k: v}\nb: *a\nc: [*a, *a]\n", "x.yaml")
    assert doc.body["b"] == {"k": "v"}
    assert doc.body["c"] == [{"k": "v"}, {"k": "v"}]


@pytest.mark.parametrize(
    "text",
    [HEAD + "a: &a [*a]\n", HEAD + "a: &a {b: *a}\n", HEAD + "a: &a\n  - b: [1, *a]\n"],
)
def test_recursive_aliases_are_refused(text: str) -> None:
    found = only(text)
    assert found.code == "RBG010"
    assert found.span is not None and found.span.line == 3
    assert found.message == "this anchored node contains an alias to itself (a recursive alias)"


def test_duplicate_key_points_at_the_second_with_a_note_at_the_first() -> None:
    found = only(HEAD + "data:\n  a: 1\n  b: 2\n  a: 3\n")
    assert (found.code, found.span, found.message) == (
        "RBG002",
        Span("x.yaml", 6, 3),
        "duplicate key 'a'",
    )
    assert found.notes == ((Span("x.yaml", 4, 3), "first defined here"),)


def test_duplicate_top_level_key() -> None:
    found = only(HEAD + "kind: Secret\n")
    assert (found.code, found.span, found.message) == (
        "RBG002",
        Span("x.yaml", 3, 1),
        "duplicate key 'kind'",
    )
    assert found.notes == ((Span("x.yaml", 2, 1), "first defined here"),)


@pytest.mark.parametrize(
    ("key", "shown", "col"),
    [
        ("1", "'1' (read as int)", 3),
        ("true", "'true' (read as bool)", 3),
        ("on", "'on' (read as bool)", 3),
        ("null", "'null' (read as null)", 3),
        ("~", "'~' (read as null)", 3),
        ("1.5", "'1.5' (read as float)", 3),
    ],
)
def test_non_string_keys_are_refused(key: str, shown: str, col: int) -> None:
    found = only(HEAD + f"data:\n  {key}: x\n")
    assert (found.code, found.span) == ("RBG004", Span("x.yaml", 4, col))
    assert found.message == f"mapping key {shown} is not a string"


def test_complex_keys_are_refused() -> None:
    found = problems(HEAD + "data:\n  ? [a, b]\n  : x\n  ? {a: b}\n  : y\n")
    assert [(d.code, d.span) for d in found] == [
        ("RBG004", Span("x.yaml", 4, 5)),
        ("RBG004", Span("x.yaml", 6, 5)),
    ]
    assert all(d.message.endswith(" is not a string") for d in found)


def test_undefined_alias_is_a_syntax_error() -> None:
    found = only(HEAD + "x: *nowhere\n")
    assert (found.code, found.span) == ("RBG001", Span("x.yaml", 3, 4))
    assert found.message == "alias *nowhere has no anchor &nowhere before it"
    assert found.help == "define `&nowhere` on an earlier value, or write the value out"


def test_quoted_keys_are_strings() -> None:
    (doc,) = parse_text(HEAD + 'data:\n  "on": a\n  "1": b\n  "null": c\n', "x.yaml")
    assert doc.body["data"] == {"on": "a", "1": "b", "null": "c"}


def test_invalid_utf8_is_located_by_byte(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes(HEAD.encode() + b"data:\n  dish: caf\xe9 au lait\n")
    with pytest.raises(DiagnosticError) as caught:
        read_path(str(f))
    (found,) = caught.value.diagnostics
    assert (found.code, found.span, found.message) == (
        "RBG006",
        Span(str(f), 4, 12),
        "invalid UTF-8 byte 0xe9",
    )


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    at_limit = tmp_path / "at-limit.yaml"
    head = config_map("big").encode() + b"# "
    at_limit.write_bytes(head + b"x" * (MAX_FILE_BYTES - len(head)))
    assert at_limit.stat().st_size == MAX_FILE_BYTES
    assert [d.body["metadata"]["name"] for d in read_path(str(at_limit))] == ["big"]

    over = tmp_path / "over.yaml"
    over.write_bytes(head + b"x" * (MAX_FILE_BYTES + 1 - len(head)))
    with pytest.raises(DiagnosticError) as caught:
        read_path(str(over))
    (found,) = caught.value.diagnostics
    assert (found.code, found.span, found.message) == (
        "RBG007",
        Span(str(over)),
        "larger than 8 MiB",
    )


def test_stdin_over_the_size_limit_is_refused() -> None:
    stdin = io.BytesIO(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(DiagnosticError) as caught:
        load(["-"], stdin=stdin)
    assert [(d.code, d.span) for d in caught.value.diagnostics] == [("RBG007", Span("-"))]


def test_missing_paths_are_refused(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", config_map("good"))
    missing = str(tmp_path / "missing.yaml")
    with pytest.raises(DiagnosticError) as caught:
        load([str(good), missing, str(tmp_path / "gone")])
    assert [(d.code, d.span, d.message) for d in caught.value.diagnostics] == [
        ("RBG008", Span(str(tmp_path / "gone")), "no such file or directory"),
        ("RBG008", Span(missing), "no such file or directory"),
    ]


@pytest.mark.parametrize(
    ("text", "span", "message"),
    [
        ("- a\n- b\n", Span("x.yaml", 1, 1), "document 1 is a list, not an object"),
        # in the user's words, never Python's (`str`, `int`)
        ("just text\n", Span("x.yaml", 1, 1), "document 1 is a string, not an object"),
        (HEAD + "---\n42\n", Span("x.yaml", 4, 1), "document 2 is a number, not an object"),
        (HEAD + "---\ntrue\n", Span("x.yaml", 4, 1), "document 2 is true or false, not an object"),
        ("kind: ConfigMap\n", Span("x.yaml", 1, 1), "document 1 has no apiVersion"),
        ("apiVersion: v1\n", Span("x.yaml", 1, 1), "document 1 has no kind"),
        ("metadata: {}\n", Span("x.yaml", 1, 1), "document 1 has no apiVersion or kind"),
        # present but not a name: said at the value, not as if it were missing
        (
            "apiVersion: 1\nkind: ConfigMap\n",
            Span("x.yaml", 1, 13),
            "document 1: apiVersion is a number, not a string such as `v1` or `apps/v1`",
        ),
        (
            "apiVersion: v1\nkind: [Config, Map]\n",
            Span("x.yaml", 2, 7),
            "document 1: kind is a list, not a string such as `ConfigMap`",
        ),
        ("apiVersion: v1\nkind: ''\n", Span("x.yaml", 2, 7), "document 1: kind is empty"),
    ],
)
def test_non_objects_are_refused(text: str, span: Span, message: str) -> None:
    found = only(text)
    assert (found.code, found.span, found.message) == ("RBG009", span, message)


@pytest.mark.parametrize(
    ("text", "span", "message"),
    [
        (
            "a: [\n",
            Span("x.yaml", 2, 1),
            "did not find expected node content (while parsing a flow node)",
        ),
        ("a: b\n c: d\n", Span("x.yaml", 2, 3), "mapping values are not allowed in this context"),
        (
            HEAD + "data:\n  - a\n  b: c\n",
            Span("x.yaml", 5, 3),
            "did not find expected '-' indicator (while parsing a block collection)",
        ),
        (
            HEAD + 'x: "open\n',
            Span("x.yaml", 4, 1),
            "found unexpected end of stream (while scanning a quoted scalar)",
        ),
    ],
)
def test_syntax_errors_are_located(text: str, span: Span, message: str) -> None:
    found = only(text)
    assert (found.code, found.span, found.message) == ("RBG001", span, message)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (  # a field of a list item one space short of its siblings
            "roles:\n  - name: a\n   replicas: 1\n",
            "compare line 3 with line 2: a field of the item there starts at 4 spaces (like "
            "`name`), a new item's `-` at 2 spaces; line 3 has 3 spaces",
        ),
        (  # a key between two levels
            "a:\n  b: 1\n c: 2\n",
            "compare line 3 with line 1: the keys of the mapping that starts there are indented "
            "0 spaces; line 3 has 1 space",
        ),
        (  # a key indented under one that already has a value
            "a:\n  b: 1\n    c: 2\n",
            "compare line 3 with line 2: `b` there, indented 2 spaces, already has a value, so "
            "nothing nests under it; line 3 has 4 spaces",
        ),
        ("a:\n\tb: 1\n", "line 2 is indented with a tab; YAML indents with spaces only"),
        (  # not indentation: a plain value holding `: `
            "command: echo a: b\n",
            'a plain value cannot hold `: `; quote it ("a: b"), or give the key its own line',
        ),
    ],
)
def test_indentation_errors_say_which_lines_to_compare(text: str, hint: str) -> None:
    found = only(text)
    assert (found.code, found.help) == ("RBG001", hint)


def test_a_document_of_too_many_values_is_refused_before_it_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Values are counted while the parser reads (18.13): the refusal comes at the value past
    the limit, and the composer that would build the whole tree never runs."""
    import yaml

    from rbgc.source import MAX_VALUES

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the document was composed before its values were counted")

    monkeypatch.setattr(yaml, "compose_all", never)  # the loader's composer
    items = "0, " * (MAX_VALUES + 10)
    found = only(HEAD + "metadata: {name: x}\n---\n" + HEAD + f"data: [{items}0]\n")
    assert found.code == "RBG005"
    assert found.message == f"document 2 has more than {MAX_VALUES:,} values"
    # at the value past the limit: the mapping, its three keys, two values and the list come
    # first (7 values), so item MAX_VALUES - 6 of the list, 3 columns apart from column 8
    assert found.span == Span("x.yaml", 7, 8 + 3 * (MAX_VALUES - 7))


def test_the_value_limit_counts_each_document_on_its_own() -> None:
    from rbgc.source import MAX_VALUES

    half = ", ".join(["0"] * (MAX_VALUES // 2))
    docs = parse_text(f"{HEAD}data: [{half}]\n---\n{HEAD}data: [{half}]\n", "x.yaml")
    assert [len(d.body["data"]) for d in docs] == [MAX_VALUES // 2, MAX_VALUES // 2]


def test_all_problems_of_one_document_are_reported_together() -> None:
    found = problems(HEAD + "a: !Ref x\nb: 1\nb: 2\n3: z\n")
    assert [(d.code, d.span) for d in found] == [
        ("RBG003", Span("x.yaml", 3, 4)),
        ("RBG002", Span("x.yaml", 5, 1)),
        ("RBG004", Span("x.yaml", 6, 1)),
    ]


def test_all_problems_of_a_run_are_reported_together_and_sorted(tmp_path: Path) -> None:
    write(tmp_path / "c.yaml", HEAD + "x: !Ref y\n")
    # (a file none of whose documents has two of apiVersion, kind and metadata would be
    # skipped, not reported)
    write(tmp_path / "a.yaml", "- not an object\n---\n" + config_map("beside"))
    write(tmp_path / "b.yaml", config_map("fine"))
    write(tmp_path / "sub" / "d.yaml", "a: [\n")
    bad = tmp_path / "e.yaml"
    bad.write_bytes(b"\xff\n")
    missing = str(tmp_path / "0-missing.yaml")
    with pytest.raises(DiagnosticError) as caught:
        load([str(tmp_path), missing])
    found = [(d.code, d.span) for d in caught.value.diagnostics]
    assert found == [
        ("RBG008", Span(missing)),
        ("RBG009", Span(str(tmp_path / "a.yaml"), 1, 1)),
        ("RBG003", Span(str(tmp_path / "c.yaml"), 3, 4)),
        ("RBG006", Span(str(bad), 1, 1)),
        ("RBG001", Span(str(tmp_path / "sub" / "d.yaml"), 2, 1)),
    ]


def test_a_missing_path_hints_at_the_near_name(tmp_path: Path) -> None:
    """A typo in a path is the most common first error: say which file was meant, as a shell
    or git does, and otherwise where the path was looked for."""
    write(tmp_path / "examples" / "pd-disaggregated.yaml", config_map("pd"))
    with pytest.raises(DiagnosticError) as caught:
        load([str(tmp_path / "examples" / "pd-disagregated.yaml"), str(tmp_path / "nowhere" / "x")])
    near, far = sorted(caught.value.diagnostics, key=lambda d: str(d.span))
    assert near.help == f"did you mean '{tmp_path / 'examples' / 'pd-disaggregated.yaml'}'?"
    assert far.help == "check the path (relative to the current folder); `-` reads standard input"
    with pytest.raises(DiagnosticError) as caught:
        load([str(tmp_path / "exmples") + "/"])
    assert caught.value.diagnostics[0].help == f"did you mean '{tmp_path / 'examples'}'?"


def test_rbgcs_own_output_folders_below_an_input_folder_are_not_inputs(tmp_path: Path) -> None:
    """`rbgc build apps/ --out apps/rendered` twice: the second run read its own output as
    input (every object twice: 7 errors, 49 warnings). A folder holding the --out marker is
    rbgc's output, as `rbgc validate` with no path already knows; named itself, it is read."""
    from rbgc.outdir import MARKER

    write(tmp_path / "apps" / "a.yaml", config_map("a"))
    write(tmp_path / "apps" / "rendered" / "default_configmap_a.yaml", config_map("a"))
    write(tmp_path / "apps" / "rendered" / MARKER, "default_configmap_a.yaml\n")
    write(tmp_path / "apps" / "rendered" / "wave-0" / "b.yaml", config_map("b"))
    assert expand_paths([str(tmp_path / "apps")]) == [str(tmp_path / "apps" / "a.yaml")]
    named = expand_paths([str(tmp_path / "apps" / "rendered")])
    assert [Path(p).name for p in named] == ["default_configmap_a.yaml", "b.yaml"]
    # a folder of nothing but outputs (`rbgc validate rendered/`) is read: what else is there
    (tmp_path / "apps" / "a.yaml").unlink()
    assert [Path(p).name for p in expand_paths([str(tmp_path / "apps")])] == [
        "default_configmap_a.yaml",
        "b.yaml",
    ]
