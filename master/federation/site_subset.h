// The federation of some of another federation's sites: a job that names its sites runs on one.
// Batches go through the parent, so each site still sees one batch at a time and the parent's
// pending releases still reach it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "master/federation/federation.h"

namespace fedra {

class SiteSubset final : public Federation {
 public:
  // `sites` must be distinct sites of `parent`, which must outlive the subset; errors name the
  // unknown ones and the sites there are.
  static Result<std::unique_ptr<SiteSubset>> Make(Federation& parent, std::vector<std::string> sites);

 protected:
  std::future<Result<ResponseBatch>> Send(const std::string& site, const RequestBatch& batch) override;

 private:
  SiteSubset(Federation& parent, std::vector<std::string> sites)
      : Federation(std::move(sites), parent), parent_(parent) {}

  Federation& parent_;
};

}  // namespace fedra
