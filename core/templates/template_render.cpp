#include "core/templates/template_render.h"

#include <utility>

#include "bus/small_file.h"
#include "core/templates/template_check.h"
#include "core/templates/template_group.h"
#include "core/templates/template_renderer.h"
#include "core/templates/template_value.h"

namespace hub::templates {

Result<Rendered> render_text(std::string_view text, const std::filesystem::path& file,
                             const YAML::Node& attributes) {
  auto loaded = load_template(text, file);
  if (!loaded) return loaded.status();
  const ValuePtr values = from_yaml(attributes);
  auto undefined = check_template(*loaded, *values);
  if (!undefined) return undefined.status();
  auto rendered = render_template(*loaded, values);
  if (!rendered) return rendered.status();
  return Rendered{std::move(rendered.value()), std::move(undefined.value())};
}

Result<Rendered> render_file(const std::filesystem::path& file, const YAML::Node& attributes) {
  auto text = read_small_file(file, kMaxTemplateBytes);
  if (!text) return text.status();
  return render_text(*text, file, attributes);
}

}  // namespace hub::templates
