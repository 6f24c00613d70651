from schema import validate

PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "role": {"enum": ["admin", "user"]},
    },
    "additionalProperties": False,
}


def paths(errors):
    return [p for p, _ in errors]


def test_valid_document():
    assert validate({"name": "Ada", "age": 36, "tags": ["x"], "role": "admin"}, PERSON) == []


def test_messages_are_strings():
    errs = validate(5, {"type": "string"})
    assert len(errs) == 1 and errs[0][0] == "" and isinstance(errs[0][1], str) and errs[0][1]


def test_root_type_mismatch_stops_there():
    assert paths(validate([], PERSON)) == [""]


def test_missing_required_reported_at_object():
    assert paths(validate({"name": "Ada"}, PERSON)) == [""]


def test_nested_paths():
    errs = validate({"name": "", "age": -1, "tags": ["ok", 3]}, PERSON)
    assert paths(errs) == ["/name", "/age", "/tags/1"]


def test_additional_properties():
    assert paths(validate({"name": "A", "age": 1, "extra": 1}, PERSON)) == ["/extra"]


def test_bool_is_not_a_number_and_float_not_integer():
    assert paths(validate(True, {"type": "number"})) == [""]
    assert paths(validate(1.0, {"type": "integer"})) == [""]
    assert validate(3, {"type": "number"}) == []


def test_type_list_and_null():
    s = {"type": ["string", "null"]}
    assert validate(None, s) == [] and validate("x", s) == []
    assert paths(validate(1, s)) == [""]


def test_array_bounds_and_enum():
    assert paths(validate(["a", "b", "c", "d"], PERSON["properties"]["tags"])) == [""]
    assert paths(validate([], {"type": "array", "minItems": 1})) == [""]
    assert paths(validate("guest", PERSON["properties"]["role"])) == [""]


def test_multiple_errors_are_all_reported():
    errs = validate({"age": 200, "tags": [1, 2]}, PERSON)
    assert paths(errs) == ["", "/age", "/tags/0", "/tags/1"]


def test_keys_with_nested_objects():
    s = {"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}}}
    assert paths(validate({"a": {"b": "x"}}, s)) == ["/a/b"]
