// How the parameter server gets work done at the sites: it starts a site on a piece of work
// (train the next local round from these parameters) and takes finished work back in the order
// it finishes. The federation runner does this over the network; tests drive the same server
// with a runner on a simulated clock, to make timing-dependent behaviour exact.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <Eigen/Core>

#include "common/status.h"

namespace fedra {

struct SiteWork {
  int site = 0;         // index among the runner's sites
  int64_t step = 0;     // which of the site's local rounds to train (its epochs or batches)
  int64_t version = 0;  // the model version the parameters are
  std::shared_ptr<const Eigen::VectorXf> parameters;
};

struct SiteUpdate {
  Eigen::VectorXf values;  // a parameter delta, or an accrued gradient
  double rows = 0;         // rows trained on: the update's weight
  double loss_sum = 0;
  double correct = 0;
  int epoch = 0;            // the site's epoch at its last batch
  uint64_t bytes_down = 0;  // parameters sent
  uint64_t bytes_up = 0;    // update received
  // Under secure aggregation the update stays at the site, in this variable, until the round's
  // secure sum (values is then empty, and the statistics are unknown).
  uint64_t held = 0;
};

struct FinishedWork {
  SiteWork work;
  Result<SiteUpdate> update;
};

class SiteRunner {
 public:
  virtual ~SiteRunner() = default;
  virtual int sites() const = 0;
  virtual const std::string& site_name(int site) const = 0;
  // Starts `work` and returns at once; a site has at most one piece of work at a time.
  virtual void Start(SiteWork work) = 0;
  // Blocks until a started piece of work finishes; only called while some is under way. Every
  // piece finishes: each site call has its own deadline.
  virtual FinishedWork Next() = 0;
  // Seconds on the runner's clock.
  virtual double Now() const = 0;
};

}  // namespace fedra
