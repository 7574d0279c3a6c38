// Static checks of a loaded template (template_group.h), made before it is rendered: every
// call names a template it can reach or a built-in function, with arguments it accepts;
// and the attribute names it uses that the attributes do not define, whether or not a
// render would reach them (the strict mode of `hubd --check`).
#pragma once

#include <string>
#include <vector>

#include "bus/status.h"
#include "core/templates/template_group.h"
#include "core/templates/template_value.h"

namespace hub::templates {

// ST4's built-in functions: first, last, rest, trunc, reverse, length, strlen, trim, strip.
bool is_builtin(const std::string& name);

// The names used but not defined (a path as written: "a.b.c"), sorted and unique; fails
// with "FILE:LINE:COL: ..." at the first call that cannot be made.
Result<std::vector<std::string>> check_template(const TemplateFile& t, const Value& attributes);

}  // namespace hub::templates
