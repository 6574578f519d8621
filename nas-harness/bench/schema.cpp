#include "schema.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "results_schema_json.h"

namespace vtasos::bench {
using nlohmann::json;

namespace {

bool has_type(const json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer")
        return v.is_number_integer() ||
               (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    return false;
}

struct Validator {
    const json& root;
    std::vector<std::string> errors;

    void check(const json& v, const json& s, const std::string& path) {
        if (s.is_boolean()) {
            if (!s.get<bool>()) errors.push_back(path + ": not allowed");
            return;
        }
        if (!s.is_object()) {
            errors.push_back(path + ": schema is not an object");
            return;
        }
        static const std::set<std::string> known = {
            "type",        "properties", "required",  "additionalProperties",
            "items",       "enum",       "const",     "minimum",
            "maximum",     "minItems",   "minLength", "$ref",
            "description", "title",      "$schema",   "$id",
            "$comment",    "$defs",      "examples"};
        for (auto it = s.begin(); it != s.end(); ++it)
            if (!known.count(it.key()))
                errors.push_back(path + ": schema keyword '" + it.key() + "' is not supported");
        if (s.contains("$ref")) {
            auto ref = s["$ref"].get<std::string>();
            const std::string prefix = "#/$defs/";
            if (ref.rfind(prefix, 0) != 0 || !root.contains("$defs") ||
                !root["$defs"].contains(ref.substr(prefix.size()))) {
                errors.push_back(path + ": unresolvable $ref " + ref);
                return;
            }
            check(v, root["$defs"][ref.substr(prefix.size())], path);
        }
        if (s.contains("type")) {
            std::vector<std::string> types;
            if (s["type"].is_string())
                types.push_back(s["type"]);
            else
                for (const auto& t : s["type"]) types.push_back(t);
            bool ok = false;
            for (const auto& t : types) ok = ok || has_type(v, t);
            if (!ok) {
                std::string want;
                for (const auto& t : types) want += (want.empty() ? "" : "|") + t;
                errors.push_back(fmt::format("{}: expected {}, got {}", path, want, v.type_name()));
                return;
            }
        }
        if (s.contains("enum")) {
            bool ok = false;
            for (const auto& e : s["enum"]) ok = ok || e == v;
            if (!ok)
                errors.push_back(
                    fmt::format("{}: {} is not one of {}", path, v.dump(), s["enum"].dump()));
        }
        if (s.contains("const") && s["const"] != v)
            errors.push_back(fmt::format("{}: must be {}", path, s["const"].dump()));
        if (v.is_number()) {
            double x = v.get<double>();
            if (s.contains("minimum") && x < s["minimum"].get<double>())
                errors.push_back(fmt::format("{}: {} < minimum {}", path, x, s["minimum"].dump()));
            if (s.contains("maximum") && x > s["maximum"].get<double>())
                errors.push_back(fmt::format("{}: {} > maximum {}", path, x, s["maximum"].dump()));
        }
        if (v.is_string() && s.contains("minLength") &&
            v.get<std::string>().size() < s["minLength"].get<size_t>())
            errors.push_back(path + ": string shorter than minLength");
        if (v.is_array()) {
            if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>())
                errors.push_back(fmt::format("{}: {} item(s), minItems {}", path, v.size(),
                                             s["minItems"].dump()));
            if (s.contains("items"))
                for (size_t i = 0; i < v.size(); ++i)
                    check(v[i], s["items"], fmt::format("{}[{}]", path, i));
        }
        if (v.is_object()) {
            if (s.contains("required"))
                for (const auto& r : s["required"])
                    if (!v.contains(r.get<std::string>()))
                        errors.push_back(path + ": missing required property '" +
                                         r.get<std::string>() + "'");
            const json* props = s.contains("properties") ? &s["properties"] : nullptr;
            for (auto it = v.begin(); it != v.end(); ++it) {
                auto sub = path + "." + it.key();
                if (props && props->contains(it.key()))
                    check(it.value(), (*props)[it.key()], sub);
                else if (s.contains("additionalProperties"))
                    check(it.value(), s["additionalProperties"], sub);
            }
        }
    }
};

}  // namespace

std::vector<std::string> validate_json(const json& doc, const json& schema) {
    Validator v{schema, {}};
    v.check(doc, schema, "$");
    return v.errors;
}

const json& results_schema() {
    static const json schema = json::parse(kResultsSchemaJson);
    return schema;
}

}  // namespace vtasos::bench
