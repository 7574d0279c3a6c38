// Parses the text of a StringTemplate (a .st file's body, or a group template's) into
// elements (template_ast.h). The syntax is ST4's common core (docs/TEMPLATES.md).
#pragma once

#include <string>
#include <string_view>

#include "bus/status.h"
#include "core/templates/template_ast.h"
#include "core/templates/template_scanner.h"

namespace hub::templates {

// The characters that open and close an expression: '<' '>' unless a file says otherwise.
struct Delimiters {
  char start = '<';
  char stop = '>';
};

// TEXT starts at START of FILE (so errors name the file's own line and column). Fails with
// "FILE:LINE:COL: what was expected" at the first syntax error.
Result<Elements> parse_template(std::string_view text, const std::string& file, Position start,
                                Delimiters delimiters);
// The same for a group template's BODY, whose errors name the group file's line and column
// its origins give.
Result<Elements> parse_template(const MappedText& body, const std::string& file,
                                Delimiters delimiters);

}  // namespace hub::templates
