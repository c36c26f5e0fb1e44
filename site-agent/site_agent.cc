#include "site-agent/site_agent.h"

#include "common/logging.h"
#include "site-agent/gpu_trainer.h"

namespace fedra {

Result<std::unique_ptr<SiteAgent>> SiteAgent::Open(const SiteConfig& c) {
  std::unique_ptr<SiteAgent> agent(new SiteAgent());
  FEDRA_ASSIGN_OR_RETURN(agent->audit_, AuditLog::Open(c.audit_log, c.audit_rotation));
  FEDRA_ASSIGN_OR_RETURN(agent->ledger_, PrivacyLedger::Open(c.privacy_ledger));
  agent->catalog_ = std::make_unique<Catalog>(c.datasets);
  agent->catalog_->Probe();
  agent->symbols_ = std::make_unique<SymbolTable>(c.limits.memory_budget_bytes);
  agent->executor_ = std::make_unique<Executor>(c.name, c.limits, agent->catalog_.get(), agent->symbols_.get(),
                                                agent->audit_.get(), agent->ledger_.get());
  agent->executor_->WriteKeptTo(c.output_folder);
  if (!c.gpu) {
    FEDRA_LOG(kInfo) << "training on the CPU (\"gpu\": \"off\")";
  } else if (const GpuProbe& gpu = ProbeGpu(); gpu.available) {
    FEDRA_LOG(kInfo) << "training on the GPU: " << gpu.description;
    agent->executor_->TrainOnGpu(true);
  } else {
    FEDRA_LOG(kInfo) << "training on the CPU: " << gpu.description;
  }
  return agent;
}

}  // namespace fedra
