#include "master/api/api_target.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace fedra {

Result<ApiTarget> ParseApiTarget(std::string_view target) {
  boost::system::result<boost::urls::url_view> url = boost::urls::parse_origin_form(target);
  if (!url) return InvalidArgument("malformed request target: " + url.error().message());
  std::vector<std::string> segments(url->segments().begin(), url->segments().end());
  ApiTarget t;
  size_t prefix = 2;
  if (segments.size() >= 3 && segments[0] == "api" && segments[1] == "2.0" && segments[2] == "mlflow") {
    t.mlflow = true;
    prefix = 3;
  } else if (segments.size() < 2 || segments[0] != "api" || segments[1] != "v1") {
    return NotFound("no resource at " + std::string(url->path()));
  }
  t.path.assign(segments.begin() + static_cast<std::ptrdiff_t>(prefix), segments.end());
  if (!t.path.empty() && t.path.back().empty()) t.path.pop_back();  // "runs/" names "runs"
  for (const boost::urls::param& q : url->params(boost::urls::encoding_opts(/*space_as_plus=*/true))) {
    t.query[q.key] = q.has_value ? q.value : "";
  }
  return t;
}

}  // namespace fedra
