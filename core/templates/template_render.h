// StringTemplate (ST4) rendering for module templates: the common core of ST4's syntax,
// as docs/TEMPLATES.md describes it. Thread-safe (no shared state).
//
// A template is a `.st` file. Its first lines may be directives, each a whole line:
//   delimiters "$", "$"      the expression delimiters (default "<", ">")
//   import "NAME.stg"        a group file of the same directory whose templates the file
//                            may call (`<header()>`, `<row(x)>`); may be repeated
// A `.stg` group file holds named templates in ST4's group syntax (`name(a, b) ::= <<...>>`
// or `"..."`), may set its own `delimiters` and `import` other groups of its directory.
//
// Missing attributes render empty, as in ST; `undefined` lists every attribute name the
// template (and the group templates it can reach) uses that ATTRIBUTES does not define,
// whether or not the render reached it, so a strict check can refuse it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"

namespace hub::templates {

struct Rendered {
  std::string text;
  std::vector<std::string> undefined;  // attribute names used but not defined, sorted, unique
};

// Renders FILE with ATTRIBUTES (a YAML map: the module's config keys, `hub`, `instance`;
// template_attributes.h). Fails with "FILE:LINE:COL: what was expected" for a syntax
// error (FILE as given), a group that cannot be read, or a call to an unknown template.
Result<Rendered> render_file(const std::filesystem::path& file, const YAML::Node& attributes);

// The same for TEXT, named FILE in errors; imports are read relative to `file`'s directory.
Result<Rendered> render_text(std::string_view text, const std::filesystem::path& file,
                             const YAML::Node& attributes);

}  // namespace hub::templates
