// Spectral function for .spectral.yaml: every entry of a schema's `examples`
// array (the JSON Schema 2020-12 keyword OpenAPI 3.1 uses) must be valid
// against that schema. The built-in oas3-valid-schema-example only checks the
// older `example` and `default` keywords, so 3.1 examples would go unchecked.
import { createRulesetFunction } from "@stoplight/spectral-core";
import { schema as validate } from "@stoplight/spectral-functions";

export default createRulesetFunction(
  { input: null, options: null },
  function schemaExamples(target, _options, context) {
    // Media types and parameters have `examples` too, but as a map: skip them.
    if (target === null || typeof target !== "object" || !Array.isArray(target.examples)) return [];
    // Validate against the schema itself, minus its own example keywords.
    const { examples, example: _example, ...schema } = target;
    const results = [];
    examples.forEach((value, index) => {
      const found = validate(
        value,
        { schema, dialect: "draft2020-12", allErrors: true },
        { ...context, path: [...context.path, "examples", index] },
      );
      if (Array.isArray(found)) results.push(...found);
    });
    return results;
  },
);
