"""Hypothesis strategies: nasty text, hostile questions, document ids that try to leave the corpus, and
requests for every route of an OpenAPI schema (bodies from its JSON schemas, plus malformed ones)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import strategies as st

# Characters and pieces that break naive text handling: C0/C1 controls, every kind of line and page break,
# invisible and bidi marks, combining marks, characters NFKC expands (ﷺ is 18 letters), emoji sequences,
# markup the normaliser rewrites, and words the chunker treats specially.
NASTY = [
    *"\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x85\x9b\t\n\r \u00a0\u2028\u2029",
    *"\u200b\u200c\u200d\u200f\u202e\u2066\u00ad\ufeff\u0301\u0327",
    *"-*_\\#.?!•:;()[]<>\"'`$%&|~",
    "ﬁ",
    "ﷺ",
    "㍿",
    "Ａｂ",
    "👩‍👩‍👧",
    "🇮🇳",
    "\r\n",
    "-\n",
    "\n\n",
    "\n\n\n\n",
    "**",
    "__",
    "<i>",
    "</b>",
    "<ul class='x'>",
    "\\$",
    "\\*",
    "\ue000",
    "\ue010",
    "\ue011",
    "a",
    "B",
    "word",
    "Growth",
    "References\n",
    "1. Title\n",
    "2.3 Sub\n",
    "Table 1: Costs\n",
    "Source: X\n",
    "U.S.",
    "e.g.",
    "Alpha, A. (2020).",
    "https://x.example/a?b=c",
    "# Heading\n",
    "\t1\t2\n",
    "مرحبا",
    "שלום",
    "日本語",
    "한국어",
]
long_token = st.integers(100, 4000).map(lambda n: "x" * n)
long_word_run = st.integers(50, 400).map(lambda n: " ".join(["lorem"] * n))
nasty_piece = st.one_of(
    st.sampled_from(NASTY), st.text(max_size=6), st.text(st.characters(codec="utf-8"), max_size=4)
)
nasty_text = st.lists(st.one_of(nasty_piece, long_token, long_word_run), max_size=50).map("".join)
short_nasty_text = st.lists(nasty_piece, max_size=40).map("".join)

# Questions a user (or an attacker) may type.
HOSTILE_QUESTIONS = [
    "",
    "   ",
    "\n\t \r\n",
    "x" * 100_000,
    "apples " * 20_000,
    "What\x00 is\x07 this\x1b[31m?\x9b",
    "\u202eWhat is the apple harvest?\u202c",
    "متى يتم حصاد التفاح في كشمير؟",
    "מתי קוטפים תפוחים?",
    "カシミールのリンゴはいつ収穫されますか？",
    "克什米尔的苹果什么时候收获？",
    "🍎🍎🍎❓",
    "👩‍👩‍👧 🇮🇳 apples?",
    "' OR 1=1; DROP TABLE chunks; --",
    '"; SELECT * FROM users WHERE "a"="a',
    "(.*)+$ [a-z]{1,99999} (?<=x) \\1 \\",
    "^(a+)+$ " + "a" * 50 + "!",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "{{7*7}} ${7*7} <%= 7*7 %> {0.__class__} %s %n %x",
    "../../../../etc/passwd",
    "\\u0000 \\x00 %00",
    "?",
    "a",
    "\u0301\u0301\u0301",
    "Ａｐｐｌｅ ｈａｒｖｅｓｔ",
    "\ufeff\u200b\u200b",
    "apple" + "\u0301" * 500,
]
questions = st.one_of(st.sampled_from(HOSTILE_QUESTIONS), st.text(max_size=300), short_nasty_text)

# ---------------------------------------------------------------- document ids that try to leave the corpus

_SEGMENTS = [
    "..",
    ".",
    "",
    "...",
    "....//",
    "%2e%2e",
    "%2E%2E",
    "%252e%252e",
    "%c0%ae%c0%ae",
    "%uff0e%uff0e",
    "\uff0e\uff0e",
    "..%2f",
    "..%5c",
    "..\\..",
    "%00",
    "\x00",
    "etc",
    "passwd",
    "secret.txt",
    "outside",
    "links",
    "outside-dir",
    "leak.txt",
    "good.txt",
    "fruit",
    "apples.txt",
    "corpus",
    "~",
    "$HOME",
    ";",
    "?page=1",
    "#",
    "/",
    "//",
    "%2f",
    "%252f",
    "C:",
]


def traversal_ids(extra: list[str] = ()) -> st.SearchStrategy[str]:
    """Raw URL path pieces (already percent-encoded where they want to be) for a doc_id."""
    segs = st.sampled_from(_SEGMENTS + list(extra))
    joined = st.lists(segs, min_size=1, max_size=7).map("/".join)
    return st.one_of(joined, joined.map(lambda s: "/" + s), st.sampled_from(list(extra) or ["x"]))


def url_piece(raw: str) -> str:
    """Percent-encode what an HTTP client could not send raw, keep the rest as the attacker wrote it."""
    return quote(raw, safe="/%?#;:~$.\\")


# ---------------------------------------------------------------- requests from an OpenAPI schema

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)


def from_schema(schema: dict, spec: dict, depth: int = 0) -> st.SearchStrategy:
    """Values matching a JSON schema (the OpenAPI subset FastAPI writes)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return from_schema(spec["components"]["schemas"][name], spec, depth + 1)
    if "anyOf" in schema or "oneOf" in schema:
        return st.one_of([from_schema(s, spec, depth + 1) for s in schema.get("anyOf", schema.get("oneOf"))])
    kind = schema.get("type")
    if kind == "string":
        return st.one_of(questions, st.text(max_size=40))
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        return st.one_of(st.integers(lo, hi), st.integers())  # in range, and out of it
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = schema.get("items") or {}
        return st.lists(from_schema(items, spec, depth + 1) if items else json_values, max_size=5)
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {k: from_schema(v, spec, depth + 1) for k, v in props.items() if k in required}
        optional = {k: from_schema(v, spec, depth + 1) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    return json_values


def operations(spec: dict) -> list[tuple[str, str, dict]]:
    """(method, path template, operation) of every route in the schema."""
    return [
        (method.upper(), path, op)
        for path, item in sorted(spec["paths"].items())
        for method, op in sorted(item.items())
        if method in ("get", "post", "put", "patch", "delete")
    ]


@st.composite
def request_for(draw, method: str, path: str, op: dict, spec: dict, doc_ids: list[str]) -> dict:
    """One request for an operation: path and query parameters, and a body (valid by schema or not)."""
    url = path
    query = {}
    for param in op.get("parameters", []):
        name, where, schema = param["name"], param["in"], param.get("schema", {})
        if where == "path":
            if schema.get("type") == "integer":
                value = str(
                    draw(st.one_of(st.integers(-3, 200), st.integers(), st.sampled_from(["x", "1.5", ""])))
                )
            else:
                value = draw(st.one_of(st.sampled_from(doc_ids), traversal_ids(doc_ids)))
            url = url.replace("{" + name + "}", url_piece(value) if where == "path" else value)
        elif where == "query" and draw(st.booleans()):
            value = draw(st.one_of(from_schema(schema, spec), st.text(max_size=10)))
            query[name] = "" if value is None else str(value)
    request = {"route": f"{method} {path}", "method": method, "url": url, "params": query}
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        schema = body["application/json"]["schema"]
        request["json"] = draw(st.one_of(from_schema(schema, spec), json_values))
    elif "multipart/form-data" in body:
        name = draw(
            st.one_of(
                st.sampled_from(
                    ["a.txt", "b.md", "c.pdf", "d.html", "../../x.txt", "no-ext", ".txt", "e.exe"]
                ),
                st.text(max_size=30).map(lambda s: s + ".txt"),
            )
        )
        data = draw(
            st.one_of(
                st.binary(max_size=300),
                st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
                st.sampled_from([b"%PDF-1.4\ngarbage", b"<html><p>Herons fish.</p></html>", b""]),
            )
        )
        request["files"] = {"file": (name, data, "application/octet-stream")} if draw(st.booleans()) else None
        if request["files"] is None:
            request["data"] = {"file": "not a file"}
    return request
