"""A JSON Schema subset validator."""

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(instance, schema, path: str = "") -> list:
    errors = []
    t = schema.get("type")
    if t is not None:
        names = t if isinstance(t, list) else [t]
        if not any(TYPES[n](instance) for n in names):
            return [(path, f"expected {' or '.join(names)}")]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append((path, "not one of the allowed values"))
    if TYPES["number"](instance):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append((path, f"less than {schema['minimum']}"))
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append((path, f"greater than {schema['maximum']}"))
    if isinstance(instance, str):
        if "minLength" in schema and len(instance) < schema["minLength"]:
            errors.append((path, "too short"))
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append((path, "too long"))
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                errors.append((path, f"missing required property {key!r}"))
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key in instance:
                errors += validate(instance[key], sub, f"{path}/{key}")
        if schema.get("additionalProperties") is False:
            for key in instance:
                if key not in props:
                    errors.append((f"{path}/{key}", "additional property not allowed"))
    if isinstance(instance, list):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            errors.append((path, "too few items"))
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append((path, "too many items"))
        if "items" in schema:
            for i, v in enumerate(instance):
                errors += validate(v, schema["items"], f"{path}/{i}")
    return errors
