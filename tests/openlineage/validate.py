#!/usr/bin/env python3
"""Validates OpenLineage events offline, as the vendored spec's README prescribes.

Every schema (the core spec, the 38 standard facets in facets/, and anonymize's own facets in
spec/facets/) is registered under its `$id`; nothing is fetched. Each event is validated against
RunEvent, then each facet against the facet schema whose top-level `properties` names its key
for the entity it sits on. A facet key that no schema knows is an error, so a misspelt facet
cannot pass. Format checks (uuid, uri, date-time) are on.

Usage: validate.py EVENTS.jsonl...   (exit 0: all valid; 1: a problem, printed)
"""

import json
import pathlib
import sys

import jsonschema
import referencing

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def load_schemas():
    files = [HERE / "OpenLineage.json", *sorted((HERE / "facets").glob("*.json")), *sorted((ROOT / "spec" / "facets").glob("*.json"))]
    schemas = [json.loads(f.read_text()) for f in files]
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s, default_specification=referencing.jsonschema.DRAFT202012)) for s in schemas
    )
    return schemas, registry


def facet_index(schemas):
    """(entity, facet key) -> schema $id, from each facet file's top-level properties."""
    index = {}
    for schema in schemas:
        if schema["$id"] == CORE:
            continue
        for key, ref in schema.get("properties", {}).items():
            # A facet may serve several entities (LineageFacet: dataset or job).
            refs = [ref["$ref"]] if "$ref" in ref else [r["$ref"] for r in ref.get("anyOf", [])]
            for r in refs:
                definition = schema["$defs"][r.split("/")[-1]]
                bases = [part.get("$ref", "") for part in definition.get("allOf", [])]
                entity = next((b.split("/")[-1] for b in bases if b.startswith(CORE)), None)
                index[(entity, key)] = schema["$id"]
    return index


def main(paths):
    schemas, registry = load_schemas()
    index = facet_index(schemas)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    # Without rfc3987 / rfc3339-validator, jsonschema skips these formats silently.
    for value, kind in [("not a uri", "uri"), ("yesterday", "date-time"), ("nope", "uuid")]:
        if checker.conforms(value, kind):
            print(f"the `{kind}` format is not checked: pip install rfc3987 rfc3339-validator")
            return 2

    def validator(ref):
        return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry, format_checker=checker)

    run_event = validator(CORE + "#/$defs/RunEvent")
    problems = []
    count = 0

    def check_facets(where, facets, entities):
        for key, facet in (facets or {}).items():
            schema_id = next((index[(e, key)] for e in entities if (e, key) in index), None)
            if schema_id is None:
                problems.append(f"{where}: no schema for facet `{key}` on {entities[0]}")
                continue
            for error in validator(schema_id).iter_errors({key: facet}):
                problems.append(f"{where}: facet `{key}`: {error.message} at {list(error.absolute_path)}")

    for path in paths:
        for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
            if not line.strip():
                continue
            count += 1
            where = f"{path}:{number}"
            event = json.loads(line)
            for error in run_event.iter_errors(event):
                problems.append(f"{where}: {error.message} at {list(error.absolute_path)}")
            check_facets(where + " run", event["run"].get("facets"), ["RunFacet"])
            check_facets(where + " job", event["job"].get("facets"), ["JobFacet"])
            for kind, extra, entity in [("inputs", "inputFacets", "InputDatasetFacet"), ("outputs", "outputFacets", "OutputDatasetFacet")]:
                for i, dataset in enumerate(event.get(kind, [])):
                    check_facets(f"{where} {kind}[{i}]", dataset.get("facets"), ["DatasetFacet"])
                    check_facets(f"{where} {kind}[{i}]", dataset.get(extra), [entity])
    for problem in problems:
        print(problem)
    if count == 0:
        print("no events to validate")
        return 1
    print(f"{count} events checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
