// Concurrent uploaders and readers, and HTTPS with a certificate made at test time.
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "server_fixture.h"

using namespace opsync;
using namespace opsync::server;
using namespace opsync::server::testing;

namespace {

// A self-signed P-256 certificate for 127.0.0.1, written as PEM files into `dir`.
void make_certificate(const std::string& dir, std::string& cert_path, std::string& key_path) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BOOST_REQUIRE(key != nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  BOOST_REQUIRE(san != nullptr);
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  BOOST_REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  cert_path = dir + "/cert.pem";
  key_path = dir + "/key.pem";
  FILE* cert_file = fopen(cert_path.c_str(), "w");
  FILE* key_file = fopen(key_path.c_str(), "w");
  BOOST_REQUIRE(cert_file && key_file);
  BOOST_REQUIRE(PEM_write_X509(cert_file, cert) == 1);
  BOOST_REQUIRE(PEM_write_PrivateKey(key_file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  fclose(cert_file);
  fclose(key_file);
  X509_free(cert);
  EVP_PKEY_free(key);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(thirty_two_uploaders_lose_and_duplicate_nothing) {
  constexpr int kUploaders = 32;
  constexpr int kBatches = 8;
  constexpr int kOpsPerBatch = 40;
  TestServer server;
  Workspace ws = server.create_workspace();
  const std::string writer = server.issue_token(ws, Scope::kReadWrite);

  std::mutex mutex;
  std::map<OpId, uint64_t> acknowledged;  // op id -> seq the server gave it
  std::map<uint64_t, OpId> by_seq;
  std::atomic<bool> uploading{true};
  std::atomic<int> failures{0};
  std::atomic<int> reader_violations{0};

  // A reader polls throughout: every page it sees is consecutive, and what it saw at a position
  // never changes (LOG-011, LOG-012).
  std::thread reader([&] {
    Http http = server.client();
    std::map<uint64_t, OpId> seen;
    while (uploading) {
      uint64_t after = 0;
      while (true) {
        HttpAnswer answer =
            http.get(ws.path("/ops?limit=500&after_seq=" + std::to_string(after)), ws.owner_token);
        if (answer.status != 200) {
          ++reader_violations;
          break;
        }
        OpsPageResponse page = answer.as<OpsPageResponse>();
        for (size_t i = 0; i < page.ops.size(); ++i) {
          if (page.ops[i].seq != after + 1 + i) ++reader_violations;
          auto [it, fresh] = seen.emplace(page.ops[i].seq, page.ops[i].op.id);
          if (!fresh && it->second != page.ops[i].op.id) ++reader_violations;
        }
        if (!page.next_after_seq) break;
        after = *page.next_after_seq;
      }
    }
  });

  std::vector<std::thread> uploaders;
  for (int u = 0; u < kUploaders; ++u) {
    uploaders.emplace_back([&] {
      Http http = server.client();
      SystemRandom random;
      for (int b = 0; b < kBatches; ++b) {
        UploadOpsRequest request;
        for (int i = 0; i < kOpsPerBatch; ++i)
          request.ops.push_back(make_op(random, system_time_ms()));
        HttpAnswer answer = http.post(ws.path("/ops"), request, writer);
        if (answer.status != 200) {
          ++failures;
          BOOST_TEST_MESSAGE("upload failed: " << answer.status << " "
                                               << answer.body.substr(0, 200));
          continue;
        }
        UploadOpsResponse results = answer.as<UploadOpsResponse>();
        std::lock_guard lock(mutex);
        for (size_t i = 0; i < results.results.size(); ++i) {
          if (results.results[i].status != OpStatus::kAccepted) ++failures;
          acknowledged.emplace(request.ops[i].id, results.results[i].seq);
          if (!by_seq.emplace(results.results[i].seq, request.ops[i].id).second)
            ++failures;  // a seq given twice
        }
      }
    });
  }
  for (std::thread& t : uploaders) t.join();
  uploading = false;
  reader.join();

  BOOST_TEST(failures == 0);
  BOOST_TEST(reader_violations == 0);
  constexpr size_t kTotal = size_t{kUploaders} * kBatches * kOpsPerBatch;
  BOOST_TEST(acknowledged.size() == kTotal);
  Http http = server.client();
  std::vector<SequencedOp> log = read_all(http, ws);
  BOOST_REQUIRE_EQUAL(log.size(), kTotal);
  for (size_t i = 0; i < log.size(); ++i) {
    BOOST_TEST(log[i].seq == i + 1);  // dense (LOG-010)
    auto it = acknowledged.find(log[i].op.id);
    BOOST_TEST(
        (it != acknowledged.end() && it->second == log[i].seq));  // where the server said it was
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(https_with_a_certificate_made_at_test_time) {
  TempDir certificates;
  std::string cert, key;
  make_certificate(certificates.path(), cert, key);
  TestServer server({}, /*tls=*/true, cert, key);

  Http https = server.client(/*tls=*/true);
  HttpAnswer info = https.get("/v1/info");
  BOOST_TEST(info.status == 200);
  BOOST_TEST(info.as<InfoResponse>().protocol == "opsync");

  // With verification on and the certificate as the trusted root, the handshake succeeds too.
  httplib::Client verifying("https://127.0.0.1:" + std::to_string(server.port()));
  verifying.set_ca_cert_path(cert.c_str());
  verifying.enable_server_certificate_verification(true);
  auto verified = verifying.Post("/v1/workspaces", "{}", "application/json");
  BOOST_REQUIRE(verified);
  BOOST_TEST(verified->status == 201);

  // Plain HTTP to the TLS port gets no answer.
  BOOST_TEST(server.client(/*tls=*/false).get("/v1/info").status == 0);
}

BOOST_AUTO_TEST_SUITE_END()
