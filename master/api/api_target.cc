#include "master/api/api_target.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace fedra {

Result<ApiTarget> ParseApiTarget(std::string_view target) {
  boost::system::result<boost::urls::url_view> url = boost::urls::parse_origin_form(target);
  if (!url) return InvalidArgument("malformed request target: " + url.error().message());
  std::vector<std::string> segments(url->segments().begin(), url->segments().end());
  if (segments.size() < 2 || segments[0] != "api" || segments[1] != "v1") {
    return NotFound("no resource at " + std::string(url->path()));
  }
  ApiTarget t;
  t.path.assign(segments.begin() + 2, segments.end());
  if (!t.path.empty() && t.path.back().empty()) t.path.pop_back();  // "runs/" names "runs"
  for (const boost::urls::param& q : url->params(boost::urls::encoding_opts(/*space_as_plus=*/true))) {
    t.query[q.key] = q.has_value ? q.value : "";
  }
  return t;
}

}  // namespace fedra
