// How each live site variable was made, so that it can be made again: at a site that restarted
// and lost its variables (the federation does this when it sees a new incarnation), or at a site
// that joins a job late (the same steps, under new variable ids).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "federated/protocol.h"

namespace fedra {

// The requests that make one site variable from the variables its inputs' recipes make. Reads
// of datasets need no inputs; a row split or a column selection reads the variable it came
// from; a value the master sent has no recipe, unless the master keeps it to send again (the
// model's parameters that a validation leaves for the next round).
struct Recipe {
  VarId var = 0;
  std::vector<Request> steps;  // make `var`, clearing any temporaries they use
  std::vector<std::shared_ptr<const Recipe>> inputs;
  // The rows step `rows_step` reports making (-1: none reports rows). Made again, a different
  // count means the site's data changed, and the variable would no longer fit the master's
  // metadata.
  int64_t rows = -1;
  size_t rows_step = 0;
  std::string what;  // for errors: "read 'fashion'", "splitRows", ...
};

// Requests that make variables again, and what their answers must say.
struct RecipePlan {
  std::vector<Request> requests;
  // Per answer to check: its index in `requests`, the rows it must report, and what it made.
  struct RowCheck {
    size_t response = 0;
    int64_t rows = 0;
    std::string what;
  };
  std::vector<RowCheck> row_checks;
  size_t variables = 0;  // live variables the plan makes

  // Checks the answers to `requests` (one each, in order): every request succeeded and made
  // the rows it made before. Errors name `site`.
  Status Check(const std::string& site, const std::vector<Response>& answers) const;
};

// The recipes of the live variables per site; a variable without one (most values the master sent)
// is not in the book, and is lost when its site restarts. Thread-safe.
class RecipeBook {
 public:
  void Add(const std::string& site, std::shared_ptr<const Recipe> recipe);
  void Remove(const std::string& site, VarId var);
  std::shared_ptr<const Recipe> Find(const std::string& site, VarId var) const;
  bool Holds(const std::string& site, VarId var) const;

  // Makes every live variable of `site` again, in the order they were first made, under their
  // own ids: the variables they came from first, cleared at the end unless live themselves.
  RecipePlan Restore(const std::string& site) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<VarId, std::shared_ptr<const Recipe>>> live_;
};

// Makes `recipe`'s variable at another site as `var`: its steps and those of the variables it
// came from, each id renamed to a new one from `new_id`, the temporaries cleared at the end. The
// result is itself a recipe, with no inputs; its rows step is the chain's last that reports rows
// (the read or the split whose rows `var` has), and `rows` what that step made at the first site.
Recipe Rebuild(const Recipe& recipe, VarId var, const std::function<VarId()>& new_id);

}  // namespace fedra
