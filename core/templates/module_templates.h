// A module's templates as hub finds and renders them outside a service start: for the
// API's `render` (hubctl render) and for `hubd --check`'s strict report. Thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "bus/status.h"
#include "core/modules/module_loader.h"
#include "core/templates/template_attributes.h"
#include "core/templates/template_render.h"

namespace hub::templates {

// Renders TEMPLATE, a path relative to the module's directory (templates/x.conf.st),
// with SET (keys may be dotted: "db.host") merged over the module's merged config.
// Fails bad_request for a path that is absolute, has "..", or leaves the module's
// directory through a link; not_found when there is no such file; else as render_file.
Result<Rendered> render_module_template(const Module& module, const std::string& template_path,
                                        const YAML::Node& set, const HubFacts& hub);

// The module's templates: every *.st file under its templates/ directory (where
// service.yml's `templates:` sources live), module-relative, sorted.
std::vector<std::string> module_template_files(const Module& module);

}  // namespace hub::templates
