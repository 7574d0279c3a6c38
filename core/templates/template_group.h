// Loads a template file and the group files it imports (docs/TEMPLATES.md): a `.st` file's
// leading directive lines (`delimiters "$", "$"`, `import "NAME.stg"`), and `.stg` group
// files in ST4's group syntax (`name(a, b="x") ::= <<...>>`, `"..."` or `<%...%>`, with
// `delimiters`, `import`, and // or /* */ comments). Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "bus/status.h"
#include "core/templates/template_ast.h"

namespace hub::templates {

// Templates and group files larger than this are refused.
inline constexpr size_t kMaxTemplateBytes = 1024 * 1024;

// Named templates by name; a group's own template wins over an imported one.
using Group = std::map<std::string, std::shared_ptr<const NamedTemplate>>;

struct TemplateFile {
  NamedTemplate main;  // the file's own text, named ""
  Group group;         // every template it can call
};

// Parses TEXT as the .st file FILE: its directives, then its body. Imports are read from
// FILE's directory. Errors name "FILE:LINE:COL".
Result<TemplateFile> load_template(std::string_view text, const std::filesystem::path& file);

}  // namespace hub::templates
