// fedra-provision: creates or extends a federation folder (a CA and participants' startup kits),
// and signs the certificate requests of sites that keep their own private key. The logic is in provision/provisioner.h;
// this file turns the command line into its requests.
//
// Exit status: 0 on success, 2 on usage errors, 1 on other errors.
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "provision/provisioner.h"

namespace {

using fedra::Result;
using fedra::Status;
namespace provision = fedra::provision;

constexpr char kProgram[] = "fedra-provision";
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr char kDescription[] =
    "Create (or extend) a fedra federation: a certificate authority in DIR/ca and one\n"
    "startup kit folder per participant, DIR/master-<name>/ and DIR/site-<name>/.\n"
    "Each kit holds cert.pem, key.pem (mode 0600), ca.crt and a ready config\n"
    "(federation.json for a master, site.json for a site). Kit folders are mode 0700.\n"
    "A site may instead keep its key to itself: see the sign subcommand.\n";

constexpr char kFooter[] =
    "Names (participants and federation) must match ^[a-z0-9][a-z0-9_-]{0,62}$ and a\n"
    "name may be given only once per command line.\n"
    "\n"
    "Nothing is overwritten: an existing CA is reused (DIR/ca/ca.key is never regenerated)\n"
    "and an existing kit folder is reported as \"kept existing kit ...\" and left untouched.\n"
    "For each newly created site, the JSON entry to add to the \"sites\" array of an\n"
    "already existing master's federation.json is printed at the end.\n"
    "\n"
    "Enrollment (the site's private key never leaves the site):\n"
    "  at the site:  fedra-site init --dir DIR --name NAME --federation NAME\n"
    "  at the CA:    fedra-provision sign --out DIR --request request.csr [--site-address HOST:PORT]\n"
    "The signed kit DIR/site-NAME has no key.pem; the site adds the one init made.\n"
    "\n"
    "Exit status: 0 on success, 2 on usage errors, 1 on other errors.";

struct ProvisionFlags {
  std::string out;
  std::string federation;
  std::vector<std::string> masters;
  std::vector<std::string> sites;
  std::vector<std::string> tokens;
  std::string days;
  CLI::Option* federation_option = nullptr;
  CLI::Option* days_option = nullptr;
};

struct SignFlags {
  std::string out;
  std::string request;
  std::string site_address;
  std::string days;
  CLI::Option* days_option = nullptr;
};

// A malformed command line: the error, then the usage of `command`.
int UsageError(const CLI::App& command, const std::string& message) {
  std::cerr << kProgram << ": error: " << message << "\n\n" << command.help();
  return kExitUsage;
}

// A well-formed command line with a bad value: the error and where to read more.
int BadArgument(const std::string& message) {
  std::cerr << kProgram << ": error: " << message << " (see " << kProgram << " --help)\n";
  return kExitUsage;
}

int Failure(const Status& status) {
  std::cerr << kProgram << ": error: " << status.message() << "\n";
  return kExitFailure;
}

int PrintReport(const provision::ProvisionReport& report) {
  for (const std::string& line : report.lines) std::cout << line << "\n";
  return 0;
}

// Like the bash tool: 1 to 99999 written plainly (no sign, no leading zero).
Result<int> ParseDays(const CLI::Option* option, const std::string& text) {
  if (option->count() == 0) return provision::kDefaultDays;
  const bool plain =
      !text.empty() && text.size() <= 5 && text[0] != '0' && text.find_first_not_of("0123456789") == std::string::npos;
  if (!plain) {
    return fedra::InvalidArgument("invalid --days '" + text + "' (expected a positive integer, at most 99999)");
  }
  return std::stoi(text);
}

Result<provision::ProvisionRequest> BuildProvisionRequest(const ProvisionFlags& flags) {
  provision::ProvisionRequest request;
  request.out = flags.out;
  if (flags.federation_option->count() > 0) request.federation = flags.federation;
  request.masters = flags.masters;
  for (const std::string& spec : flags.sites) {
    FEDRA_ASSIGN_OR_RETURN(provision::SiteSpec site, provision::ParseSiteSpec(spec));
    request.sites.push_back(std::move(site));
  }
  for (const std::string& spec : flags.tokens) {
    FEDRA_ASSIGN_OR_RETURN(provision::TokenSpec token, provision::ParseTokenSpec(spec));
    request.tokens.push_back(std::move(token));
  }
  FEDRA_ASSIGN_OR_RETURN(request.days, ParseDays(flags.days_option, flags.days));
  FEDRA_RETURN_IF_ERROR(provision::ValidateRequest(request));
  return request;
}

Result<provision::EnrollmentSigning> BuildSigning(const SignFlags& flags) {
  provision::EnrollmentSigning signing;
  signing.out = flags.out;
  signing.request = flags.request;
  if (!flags.site_address.empty()) {
    FEDRA_ASSIGN_OR_RETURN(signing.address, provision::ParseSiteAddress(flags.site_address,
                                                                        "--site-address '" + flags.site_address + "'"));
  }
  FEDRA_ASSIGN_OR_RETURN(signing.days, ParseDays(flags.days_option, flags.days));
  return signing;
}

int RunProvision(const CLI::App& app, const ProvisionFlags& flags) {
  if (flags.out.empty()) return UsageError(app, "--out DIR is required (and must not be empty)");
  if (!flags.tokens.empty() && flags.masters.size() != 1) {
    return UsageError(app, "--token needs exactly one --master (the master whose API the tokens are for)");
  }
  Result<provision::ProvisionRequest> request = BuildProvisionRequest(flags);
  if (!request.ok()) return BadArgument(request.status().message());
  Result<provision::ProvisionReport> report = provision::Provision(*request);
  return report.ok() ? PrintReport(*report) : Failure(report.status());
}

int RunSign(const SignFlags& flags) {
  Result<provision::EnrollmentSigning> signing = BuildSigning(flags);
  if (!signing.ok()) return BadArgument(signing.status().message());
  // The kit admits the masters the federation has, as a kit made with --site does.
  Result<std::vector<std::string>> masters = provision::MastersWithKits(signing->out);
  if (!masters.ok()) return Failure(masters.status());
  signing->allowed_masters = std::move(*masters);
  Result<provision::ProvisionReport> report = provision::SignEnrollment(*signing);
  return report.ok() ? PrintReport(*report) : Failure(report.status());
}

void AddProvisionOptions(CLI::App& app, ProvisionFlags* flags) {
  app.add_option("--out", flags->out, "output folder (required); created (mode 0700) if missing.")->type_name("DIR");
  flags->federation_option = app.add_option("--federation", flags->federation,
                                            "federation name (default: \"fedra\", or the name recorded in\n"
                                            "DIR/ca/federation when the CA already exists). Giving a name\n"
                                            "that differs from an existing CA's is an error.")
                                 ->type_name("NAME");
  app.add_option("--master", flags->masters,
                 "create a master kit DIR/master-NAME (repeatable). Its\n"
                 "federation.json lists every site given on the same command\n"
                 "line. Certificate EKU: clientAuth, serverAuth.")
      ->type_name("NAME")
      ->allow_extra_args(false);
  app.add_option("--site", flags->sites,
                 "create a site kit DIR/site-NAME (repeatable). HOST:PORT is\n"
                 "where the site agent listens and masters connect (default\n"
                 "127.0.0.1:7000); HOST may be a DNS name, an IPv4 address or\n"
                 "[IPv6]. A HOST other than localhost/127.0.0.1 is added to the\n"
                 "certificate's subjectAltName. Certificate EKU: serverAuth.\n"
                 "Its site.json admits (allowed_masters) the masters given on the\n"
                 "same command line and those with a kit in DIR already; a site\n"
                 "whose list is empty admits no master.")
      ->type_name("NAME[=HOST:PORT]")
      ->allow_extra_args(false);
  app.add_option("--token", flags->tokens,
                 "issue a REST API bearer token for the one --master given (its kit\n"
                 "may exist already). ROLE is viewer (read) or operator (read,\n"
                 "submit and cancel jobs, write metrics). The token is written to\n"
                 "DIR/master-M/tokens/NAME.token (mode 0600); only its SHA-256 is\n"
                 "appended to DIR/master-M/api-tokens, which fedra-master serve\n"
                 "reads. A token name already in api-tokens is an error.")
      ->type_name("NAME=ROLE")
      ->allow_extra_args(false);
  flags->days_option = app.add_option("--days", flags->days,
                                      "validity of newly issued participant certificates in days\n"
                                      "(default 825). A new CA is valid for max(3650, N) days.")
                           ->type_name("N");
}

CLI::App* AddSignCommand(CLI::App& app, SignFlags* flags) {
  CLI::App* sign = app.add_subcommand("sign", "at the CA: make a site's kit from its request (see sign --help)");
  sign->footer(
      "Signs a site's certificate request (made by fedra-site init at the site) with the CA in\n"
      "DIR/ca and writes its kit DIR/site-NAME: cert.pem, ca.crt and site.json, but no\n"
      "key.pem. The request must be signed by its key and be for a site (OU=site) with a\n"
      "valid name (CN) of this CA's federation (O). Its site.json admits the masters\n"
      "with a kit in DIR. An existing kit is never overwritten.");
  sign->add_option("--out", flags->out, "the federation folder holding the CA.")->type_name("DIR")->required();
  sign->add_option("--request", flags->request, "the site's request.csr.")->type_name("FILE")->required();
  sign->add_option("--site-address", flags->site_address,
                   "where the site agent listens (default 127.0.0.1:7000); HOST\n"
                   "other than localhost/127.0.0.1 is added to the subjectAltName.")
      ->type_name("HOST:PORT");
  flags->days_option =
      sign->add_option("--days", flags->days, "validity of the certificate in days (default 825).")->type_name("N");
  return sign;
}

// The command whose usage fits an error: the subcommand being parsed, if any.
const CLI::App& CommandInError(const CLI::App& app) {
  const std::vector<CLI::App*> parsed = app.get_subcommands();
  return parsed.empty() ? app : *parsed.front();
}

// "--out=" and the like: CLI11 would take the next argument as the value, so refuse them first.
std::optional<std::string> EmptyInlineValue(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.starts_with("--") && arg.find('=') == arg.size() - 1) return std::string(arg.substr(0, arg.size() - 1));
  }
  return std::nullopt;
}

size_t TopLevelFlagsGiven(const CLI::App& app) {
  size_t given = 0;
  for (const CLI::Option* option : app.get_options()) given += option->count();
  return given;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgram);
  app.footer(kFooter);
  app.get_formatter()->column_width(26);
  // Leftover arguments are reported as the bash tool did: "unknown argument 'X'".
  app.allow_extras();
  ProvisionFlags provision_flags;
  SignFlags sign_flags;
  AddProvisionOptions(app, &provision_flags);
  CLI::App* sign = AddSignCommand(app, &sign_flags);
  app.require_subcommand(0, 1);

  if (argc <= 1) return UsageError(app, "no arguments (at least --out DIR is required)");
  if (const auto flag = EmptyInlineValue(argc, argv)) return UsageError(app, *flag + " requires a non-empty value");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
    return UsageError(CommandInError(app), e.what());
  }
  const std::vector<std::string> extras = app.remaining(true);
  if (!extras.empty()) return UsageError(CommandInError(app), "unknown argument '" + extras.front() + "'");

  if (sign->parsed()) {
    if (TopLevelFlagsGiven(app) > 0)
      return UsageError(app, "'sign' takes its own flags: give them after 'sign', not before");
    return RunSign(sign_flags);
  }
  return RunProvision(app, provision_flags);
}
