// schema.h: a validator for the subset of JSON Schema (2020-12) that results-schema.json uses.
//
// Supported keywords: type (a name or a list; "integer" accepts whole numbers), properties,
// required, additionalProperties (boolean or schema), items, enum, const, minimum, maximum,
// minItems, minLength, $ref to "#/$defs/<name>", description/title/$schema/$id/$comment
// (ignored). Any other keyword is reported as unsupported, so the schema cannot silently use
// something this validator would skip.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vtasos::bench {

// Every violation as "<json path>: <what>"; empty when `doc` is valid.
std::vector<std::string> validate_json(const nlohmann::json& doc, const nlohmann::json& schema);

// The committed results-schema.json, compiled into the binary.
const nlohmann::json& results_schema();

}  // namespace vtasos::bench
