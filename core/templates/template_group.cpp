#include "core/templates/template_group.h"

#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "bus/small_file.h"
#include "core/templates/template_parser.h"
#include "core/templates/template_scanner.h"

namespace hub::templates {
namespace fs = std::filesystem;

namespace {

std::string where(const fs::path& file, Position at) {
  return file.string() + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) + ": ";
}

// A group file name an import may name: NAME.stg in the importing file's directory.
bool is_group_name(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".stg") == 0 &&
         name.find('/') == std::string::npos && name[0] != '.';
}

// Reads one group file (and, first, the groups it imports) into GROUP.
Status load_group(const fs::path& file, Group& group, std::set<fs::path>& seen);

// Scans the text of a group file.
class GroupScanner : private Scanner {
 public:
  GroupScanner(std::string_view text, const fs::path& file) : Scanner(text, file.string(), {}) {}

  Status load(Group& own, std::vector<std::pair<std::string, Position>>& imports) {
    while (true) {
      skip_layout();
      if (error_) return *error_;
      if (eof()) return Status::ok();
      const Position at = pos_;
      if (!is_id_start(peek())) return fail(at, "expected a template definition (name() ::= ...)");
      const std::string id = read_id();
      skip_layout();
      if (id == "delimiters" && peek() == '"') {
        const auto start = read_string().text;
        skip_layout();
        if (!error_ && peek() != ',') return fail(pos_, "expected ',' between the delimiters");
        advance();
        skip_layout();
        const auto stop = read_string().text;
        if (error_) return *error_;
        if (start.size() != 1 || stop.size() != 1)
          return fail(at, "delimiters must be single characters, as in delimiters \"$\", \"$\"");
        delimiters_ = {start[0], stop[0]};
        continue;
      }
      if (id == "import" && peek() == '"') {
        const Position name_at = pos_;
        const auto name = read_string().text;
        if (error_) return *error_;
        if (!is_group_name(name))
          return fail(name_at, "import \"" + name +
                                   "\": expected a .stg file of the same directory (NAME.stg)");
        imports.emplace_back(name, name_at);
        continue;
      }
      if (Status s = definition(id, at, own); !s) return s;
    }
  }

 private:
  Status definition(const std::string& name, Position at, Group& own) {
    auto t = std::make_shared<NamedTemplate>();
    t->name = name;
    t->file = file_;
    t->pos = at;
    if (peek() != '(')
      return fail(pos_, "expected '(' after the template name " + name +
                            " (dictionaries and aliases are not supported)");
    advance();
    skip_layout();
    while (peek() != ')') {
      if (!is_id_start(peek())) return fail(pos_, "expected a parameter name or ')'");
      const Position param_at = pos_;
      const std::string param = read_id();
      skip_layout();
      if (peek() == '=') {
        advance();
        skip_layout();
        auto d = std::make_unique<Expr>();
        d->kind = Expr::Kind::kString;
        d->pos = pos_;
        if (peek() != '"') return fail(pos_, "expected a string as the default of " + param);
        d->name = read_string().text;
        if (error_) return *error_;
        t->defaults[param] = std::move(d);
        skip_layout();
      }
      for (const auto& p : t->params)
        if (p == param) return fail(param_at, "parameter " + param + " appears twice");
      t->params.push_back(param);
      if (peek() == ',') {
        advance();
        skip_layout();
      } else if (peek() != ')') {
        return fail(pos_, "expected ',' or ')' in the parameters of " + name);
      }
    }
    advance();
    skip_layout();
    if (s_.substr(i_, 3) != "::=") return fail(pos_, "expected '::=' after " + name + "(...)");
    for (int n = 0; n < 3; ++n) advance();
    skip_layout();
    MappedText body;
    if (s_.substr(i_, 2) == "<<") {
      advance();
      advance();
      if (peek() == '\r') advance();
      if (peek() == '\n') advance();
      const size_t end = s_.find(">>", i_);
      if (end == std::string_view::npos) return fail(at, "expected '>>' to end template " + name);
      while (i_ < end) take(body);
      body.finish(pos_);
      if (!body.text.empty() && body.text.back() == '\n') body.drop_last();
      if (!body.text.empty() && body.text.back() == '\r') body.drop_last();
      advance_to(end + 2);
    } else if (s_.substr(i_, 2) == "<%") {
      advance();
      advance();
      const size_t end = s_.find("%>", i_);
      if (end == std::string_view::npos) return fail(at, "expected '%>' to end template " + name);
      // <%...%>: newlines and the indentation after them are layout, not text.
      bool line_start = false;
      while (i_ < end) {
        const char c = peek();
        if (c == '\n' || c == '\r') {
          line_start = true;
        } else if (!(line_start && is_blank(c))) {
          line_start = false;
          body.append(c, pos_);
        }
        advance();
      }
      body.finish(pos_);
      advance_to(end + 2);
    } else if (peek() == '"') {
      body = read_string();
      if (error_) return *error_;
    } else {
      return fail(pos_, "expected <<...>>, \"...\" or <%...%> after ::=");
    }
    auto parsed = parse_template(body, file_, delimiters_);
    if (!parsed) return parsed.status();
    t->body = std::move(parsed.value());
    if (own.count(name)) return fail(at, "template " + name + " is defined twice");
    own[name] = std::move(t);
    return Status::ok();
  }

  // Scanner::fail, and the error it keeps.
  Status fail(Position at, const std::string& what) {
    Scanner::fail(at, what);
    return *error_;
  }
  // Appends the character at the cursor to BODY, with its position, and moves past it.
  void take(MappedText& body) {
    body.append(peek(), pos_);
    advance();
  }
  // A "..." string (escapes \" \\ \n \t \r; any other backslash is kept), with where each
  // character of it is in the file (an escape's, its backslash); or fails.
  MappedText read_string() {
    const Position at = pos_;
    advance();
    MappedText out;
    while (!eof() && peek() != '"') {
      if (peek() != '\\') {
        take(out);
        continue;
      }
      const Position escape_at = pos_;
      advance();
      const char e = peek();
      if (e != '"' && e != '\\' && e != 'n' && e != 't' && e != 'r') out.append('\\', escape_at);
      if (eof()) break;
      out.append(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e, escape_at);
      advance();
    }
    out.finish(pos_);
    if (eof()) {
      (void)fail(at, "string is never closed: expected '\"'");
      return out;
    }
    advance();
    return out;
  }
  // Blanks, newlines and comments (//..., /*...*/, <!...!>).
  void skip_layout() {
    while (!eof()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '/' && peek(1) == '/') {
        while (!eof() && peek() != '\n') advance();
      } else if ((c == '/' && peek(1) == '*') || (c == '<' && peek(1) == '!')) {
        const Position at = pos_;
        const std::string_view close = c == '/' ? "*/" : "!>";
        const size_t end = s_.find(close, i_ + 2);
        if (end == std::string_view::npos) {
          (void)fail(at, "comment is never closed: expected '" + std::string(close) + "'");
          return;
        }
        while (i_ < end + 2) advance();
      } else {
        return;
      }
    }
  }

  Delimiters delimiters_;
};

// True for "....stg:LINE:...": an error inside a group file, already placed.
bool is_positioned(const std::string& message) {
  const size_t at = message.find(".stg:");
  return at != std::string::npos && at + 5 < message.size() && message[at + 5] >= '0' &&
         message[at + 5] <= '9';
}

// Whether PATH, links resolved, is still inside its own directory (links resolved): a
// group may be a link to another group beside it, never to a file elsewhere.
bool stays_in_directory(const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec) return true;  // reading it will say what is wrong
  const fs::path dir = fs::weakly_canonical(absolute.parent_path(), ec);
  if (ec) return true;
  const fs::path real = fs::weakly_canonical(absolute, ec);
  return !ec && real.parent_path() == dir;
}

// Adds IMPORTS (of FILE) to GROUP, where a name already there wins.
Status add_imports(const fs::path& file,
                   const std::vector<std::pair<std::string, Position>>& imports, Group& group,
                   std::set<fs::path>& seen) {
  for (const auto& [name, at] : imports) {
    Group imported;
    const fs::path path = file.parent_path() / name;
    if (!stays_in_directory(path)) {
      return Status::error(where(file, at) + "cannot import " + name +
                           ": it links outside the template's directory");
    }
    if (Status s = load_group(path, imported, seen); !s) {
      if (is_positioned(s.message())) return s;  // "GROUP.stg:LINE:COL: ..." says it all
      return Status::error(where(file, at) + "cannot import " + name + ": " + s.message());
    }
    for (auto& [n, t] : imported) group.emplace(n, t);
  }
  return Status::ok();
}

Status load_group(const fs::path& file, Group& group, std::set<fs::path>& seen) {
  if (!seen.insert(file.lexically_normal()).second) return Status::ok();  // imported twice
  auto text = read_small_file(file, kMaxTemplateBytes);
  if (!text) return text.status();
  std::vector<std::pair<std::string, Position>> imports;
  if (Status s = GroupScanner(*text, file).load(group, imports); !s) return s;
  return add_imports(file, imports, group, seen);
}

// The value of `delimiters "X", "Y"` or `import "NAME"` on a directive line, else nullopt.
std::optional<std::vector<std::string>> directive(std::string_view line, std::string_view word) {
  if (line.substr(0, word.size()) != word) return std::nullopt;
  std::vector<std::string> values;
  size_t i = word.size();
  if (i >= line.size() || (line[i] != ' ' && line[i] != '\t')) return std::nullopt;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size() || line[i] != '"') return std::nullopt;
    const size_t end = line.find('"', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    values.emplace_back(line.substr(i + 1, end - i - 1));
    i = end + 1;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i == line.size()) return values;
    if (line[i] != ',') return std::nullopt;
    ++i;
  }
}

}  // namespace

Result<TemplateFile> load_template(std::string_view text, const fs::path& file) {
  TemplateFile out;
  out.main.file = file.string();
  Delimiters delimiters;
  std::vector<std::pair<std::string, Position>> imports;
  Position body_at;
  size_t i = 0;
  // Leading directive lines.
  while (i < text.size()) {
    const size_t nl = text.find('\n', i);
    const std::string_view line = text.substr(i, nl == std::string_view::npos ? nl : nl - i);
    const Position at{body_at.line, 1};
    if (auto d = directive(line, "delimiters"); d && d->size() == 2) {
      if ((*d)[0].size() != 1 || (*d)[1].size() != 1)
        return Status::error(where(file, at) +
                             "delimiters must be single characters, as in delimiters \"$\", \"$\"");
      delimiters = {(*d)[0][0], (*d)[1][0]};
    } else if (auto imp = directive(line, "import");
               imp && imp->size() == 1 && is_group_name((*imp)[0])) {
      imports.emplace_back((*imp)[0], Position{at.line, 8});
    } else {
      break;
    }
    i = nl == std::string_view::npos ? text.size() : nl + 1;
    ++body_at.line;
  }
  auto body = parse_template(text.substr(i), file.string(), body_at, delimiters);
  if (!body) return body.status();
  out.main.body = std::move(body.value());
  std::set<fs::path> seen;
  if (Status s = add_imports(file, imports, out.group, seen); !s) return s;
  return out;
}

}  // namespace hub::templates
