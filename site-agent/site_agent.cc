#include "site-agent/site_agent.h"

#include "common/logging.h"
#include "site-agent/blas.h"
#include "site-agent/gpu_trainer.h"

namespace fedra {

namespace {

// The site signs its secure-sum keys with its certificate key and checks the other sites'
// against the federation CA: both come from its TLS kit.
Result<std::unique_ptr<SecureSumSite>> OpenSecureSum(const SiteConfig& c) {
  for (const auto* file : {&c.tls.cert, &c.tls.key, &c.tls.ca}) {
    if (file->empty() || !std::filesystem::exists(*file)) return NotFound("its TLS kit has no " + file->string());
  }
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<CertificateSigner> signer, CertificateSigner::Open(c.tls));
  FEDRA_ASSIGN_OR_RETURN(std::unique_ptr<CertificateVerifier> verifier, CertificateVerifier::Open(c.tls.ca));
  return std::make_unique<SecureSumSite>(c.name, std::move(signer), std::move(verifier),
                                         static_cast<int>(c.limits.min_secure_sum_sites));
}

}  // namespace

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
  if (Result<std::unique_ptr<SecureSumSite>> secure = OpenSecureSum(c); secure.ok()) {
    agent->secure_sum_ = std::move(secure).value();
    agent->executor_->UseSecureSum(agent->secure_sum_.get());
  } else {
    FEDRA_LOG(kWarn) << "secure sums are off at this site: " << secure.status().message();
  }
  if (const std::string warning = BlasKernelWarning(); !warning.empty()) {
    FEDRA_LOG(kWarn) << warning;
  } else {
    FEDRA_LOG(kInfo) << "dense products and CPU training on OpenBLAS's " << BlasKernels() << " kernels";
  }
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
