// The parsed form of a StringTemplate: what template_parser.h builds and
// template_renderer.h evaluates. Positions are 1-based line and column in the file.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hub::templates {

struct Position {
  int line = 1;
  int col = 1;
};

struct Expr;
struct Element;
using ExprPtr = std::unique_ptr<Expr>;
using Elements = std::vector<Element>;

// `{a, b | body}`: an anonymous template (no parameters: the element is `it`).
struct Subtemplate {
  std::vector<std::string> params;
  Elements body;
};

struct Expr {
  enum class Kind {
    kAttribute,    // name
    kProperty,     // base.name
    kIndirect,     // base.(index)
    kString,       // "text"
    kBool,         // true, false
    kCall,         // name(args): a group template or a built-in function
    kSubtemplate,  // {x | ...}
    kMap,          // base:target, target...: each target a kCall (element first) or kSubtemplate
  };
  Kind kind = Kind::kAttribute;
  Position pos;
  std::string name;  // attribute, property or called name; a string literal's text
  bool boolean = false;
  ExprPtr base;
  ExprPtr index;
  std::vector<ExprPtr> args;           // call arguments (positional), or map targets
  std::vector<std::string> arg_names;  // call arguments by name (name=value): same size as args
  std::shared_ptr<Subtemplate> sub;
};

// A condition of <if(...)>: an expression, or !, && and || of conditions.
struct Condition {
  enum class Kind { kExpr, kNot, kAnd, kOr };
  Kind kind = Kind::kExpr;
  ExprPtr expr;
  std::unique_ptr<Condition> left, right;  // kNot uses left
};

struct Branch {
  std::unique_ptr<Condition> condition;  // null: <else>
  Elements body;
};

struct Element {
  enum class Kind { kText, kExpr, kIf };
  Kind kind = Kind::kText;
  Position pos;
  std::string text;  // kText
  // kExpr: the expression and its options (; separator=..., null=...).
  ExprPtr expr;
  ExprPtr separator;
  ExprPtr null_value;
  // kExpr: the whitespace before it when it starts its line: every further line of its
  // value is indented by as much (ST's auto-indentation).
  std::string indent;
  std::vector<Branch> branches;  // kIf: if, elseif..., else
};

// A named template of a group (or the file's own template, named "").
struct NamedTemplate {
  std::string name;
  std::vector<std::string> params;
  std::map<std::string, ExprPtr> defaults;  // name(a, b="x")
  Elements body;
  std::string file;  // for errors
  Position pos;
};

}  // namespace hub::templates
