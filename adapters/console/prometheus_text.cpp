#include "console/prometheus_text.h"

namespace hub {

std::string prometheus_text(const YAML::Node& inspect) {
  (void)inspect;
  return "";
}

}  // namespace hub
