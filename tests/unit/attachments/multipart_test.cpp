// The multipart/form-data parser of upload routes, cut into pieces of every size, and the file
// names the attachments service keeps and sends back.
#include "attachments/multipart.hpp"
#include "attachments/attachment_store.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace passerelle;
using namespace passerelle::multipart;

namespace {

struct Seen {
  std::string name;
  std::optional<std::string> filename;
  std::string type;
  std::string data;
};

class Record final : public Sink {
 public:
  void begin(const PartHead& h) override {
    parts.push_back({h.name, h.filename, h.content_type, ""});
  }
  void data(std::string_view b) override { parts.back().data.append(b); }
  void end() override { ++ended; }
  std::vector<Seen> parts;
  int ended = 0;
};

Record parse(const std::string& body, std::size_t piece = 0, Limits limits = {}) {
  Record r;
  Parser p("XyZ", limits);
  if (piece == 0) piece = body.size() + 1;
  for (std::size_t at = 0; at < body.size(); at += piece) p.feed(body.substr(at, piece), r);
  p.finish();
  return r;
}

// The status and message of a refused body.
std::pair<int, std::string> refusal(const std::string& body, Limits limits = {}) {
  try {
    parse(body, 7, limits);
  } catch (const passerelle::HttpError& e) {
    return {e.status(), e.what()};
  }
  return {0, ""};
}

const std::string kTwo =
    "--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nbonjour\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
    "Content-Type: Application/PDF; x=y\r\n\r\n%PDF\r\n--XyY not yet a--XyZ\r\n\r\n--XyZ--\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(multipart)

BOOST_AUTO_TEST_CASE(parts_read_alike_however_the_body_is_cut) {
  for (std::size_t piece = 0; piece <= kTwo.size(); ++piece) {
    const Record r = parse(kTwo, piece);
    BOOST_TEST_REQUIRE(r.parts.size() == 2u, "piece " << piece);
    BOOST_TEST(r.ended == 2);
    BOOST_TEST(r.parts[0].name == "note");
    BOOST_TEST(!r.parts[0].filename.has_value());
    BOOST_TEST(r.parts[0].data == "bonjour");
    BOOST_TEST(r.parts[1].name == "file");
    BOOST_TEST(*r.parts[1].filename == "a.pdf");
    BOOST_TEST(r.parts[1].type == "application/pdf");
    // Almost a delimiter, then a line that looks like one but is not: data.
    BOOST_TEST(r.parts[1].data == "%PDF\r\n--XyY not yet a--XyZ\r\n", "piece " << piece);
  }
}

BOOST_AUTO_TEST_CASE(preamble_padding_and_epilogue_are_skipped) {
  const Record r = parse(
      "ignored preamble\r\n--XyZ \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
      "--XyZ--\r\nanything after\r\n--XyZ\r\n");
  BOOST_TEST_REQUIRE(r.parts.size() == 1u);
  BOOST_TEST(r.parts[0].data == "1");
}

BOOST_AUTO_TEST_CASE(file_names_keep_backslashes_and_unescape_quotes) {
  const Record r = parse(
      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\dossier\\a "
      "\\\"b\\\".pdf\""
      "\r\n\r\nx\r\n--XyZ--\r\n");
  BOOST_TEST(*r.parts[0].filename == "C:\\dossier\\a \"b\".pdf");
  BOOST_TEST(AttachmentStore::clean_filename(*r.parts[0].filename) == "a b.pdf");
}

BOOST_AUTO_TEST_CASE(malformed_bodies_are_refused_with_their_reason) {
  const std::string head = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n";
  BOOST_TEST(refusal(std::string(2000, 'n')).second.find("does not start") != std::string::npos);
  BOOST_TEST(refusal("short, no boundary").second.find("ends before") != std::string::npos);
  BOOST_TEST(refusal(std::string(2000, 'p') + "\r\n" + kTwo).first == 400);  // long preamble
  BOOST_TEST(refusal(head + "\r\nunfinished").second.find("ends before") != std::string::npos);
  BOOST_TEST(refusal(head + "Content-Type: multipart/mixed; boundary=in\r\n\r\n--in--\r\n--XyZ--")
                 .second.find("nested") != std::string::npos);
  BOOST_TEST(refusal("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--\r\n")
                 .second.find("no Content-Disposition") != std::string::npos);
  BOOST_TEST(refusal("--XyZ\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--XyZ--")
                 .second.find("not form-data") != std::string::npos);
  BOOST_TEST(refusal("--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--XyZ--")
                 .second.find("no field name") != std::string::npos);
  BOOST_TEST(refusal(head + " folded\r\n\r\nx\r\n--XyZ--").second.find("folded") !=
             std::string::npos);
  BOOST_TEST(refusal(head + "Content-Disposition: form-data; name=\"g\"\r\n\r\nx\r\n--XyZ--")
                 .second.find("two Content-Disposition") != std::string::npos);
  BOOST_TEST(refusal("--XyZ\r\nContent-Disposition: form-data; name=\"unclosed\r\n\r\nx\r\n--XyZ--")
                 .second.find("malformed") != std::string::npos);
  BOOST_TEST(refusal("--XyZ garbage\r\n").second.find("line break") != std::string::npos);
  // Huge part headers, and too many parts.
  BOOST_TEST(refusal(head + "X-Pad: " + std::string(9000, 'a') + "\r\n\r\nx\r\n--XyZ--")
                 .second.find("header section exceeds") != std::string::npos);
  std::string many;
  for (int i = 0; i < 10'000; ++i) many += head + "\r\nx\r\n";
  const auto [status, message] = refusal(many + "--XyZ--\r\n");
  BOOST_TEST(status == 413);
  BOOST_TEST(message.find("more than 64 parts") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(the_boundary_parameter_is_read_strictly) {
  BOOST_TEST(*boundary_of("multipart/form-data; boundary=abc") == "abc");
  BOOST_TEST(*boundary_of("Multipart/Form-Data ; charset=utf-8; boundary=\"a b:c\"") == "a b:c");
  BOOST_TEST(!boundary_of("multipart/form-data"));
  BOOST_TEST(!boundary_of("multipart/form-data; boundary="));
  BOOST_TEST(!boundary_of("multipart/mixed; boundary=abc"));
  BOOST_TEST(!boundary_of("multipart/form-data; boundary=" + std::string(71, 'a')));
  BOOST_TEST(!boundary_of("multipart/form-data; boundary=\"ends with space \""));
  BOOST_TEST(!boundary_of("multipart/form-data; boundary=a\x01z"));
  BOOST_TEST(!boundary_of("multipart/form-data; boundary=a; boundary=b"));
}

BOOST_AUTO_TEST_CASE(file_names_are_cleaned_and_sent_back_safely) {
  BOOST_TEST(AttachmentStore::clean_filename("../../etc/passwd") == "passwd");
  BOOST_TEST(AttachmentStore::clean_filename("..") == "fichier");
  BOOST_TEST(AttachmentStore::clean_filename("") == "fichier");
  BOOST_TEST(AttachmentStore::clean_filename("a\r\nSet-Cookie: x.pdf") == "aSet-Cookie: x.pdf");
  BOOST_TEST(AttachmentStore::clean_filename("bad\xff\xfeutf8.pdf") == "bad__utf8.pdf");
  BOOST_TEST(AttachmentStore::clean_filename("délibération n°12.pdf") == "délibération n°12.pdf");
  BOOST_TEST(AttachmentStore::clean_filename(std::string(300, 'a')).size() == 200u);
  BOOST_TEST(AttachmentStore::clean_filename(std::string(199, 'a') + "é").size() == 199u);
  // Overlong, surrogate and out-of-range forms, C1 controls, bidirectional overrides.
  BOOST_TEST(AttachmentStore::clean_filename("a\xC0\xAF"
                                             "b") == "a__b");
  BOOST_TEST(AttachmentStore::clean_filename("a\xED\xA0\x80"
                                             "b") == "a___b");
  BOOST_TEST(AttachmentStore::clean_filename("a\xF4\x90\x80\x80"
                                             "b") == "a____b");
  BOOST_TEST(AttachmentStore::clean_filename("a\xC2\x85"
                                             "b") == "ab");
  BOOST_TEST(AttachmentStore::clean_filename("facture\xE2\x80\xAE"
                                             "fdp.hta") == "facturefdp.hta");
  BOOST_TEST(AttachmentStore::clean_filename("rapport. . ") == "rapport");
  BOOST_TEST(AttachmentStore::with_extension("facturefdp.hta", "application/pdf") ==
             "facturefdp.hta.pdf");
  BOOST_TEST(AttachmentStore::with_extension("Photo.JPEG", "image/jpeg") == "Photo.JPEG");
  BOOST_TEST(AttachmentStore::with_extension("note.docx", "application/msword") == "note.docx.doc");
  BOOST_TEST(AttachmentStore::disposition("délib \"n°12\".pdf") ==
             "attachment; filename=\"d__lib _n__12_.pdf\"; "
             "filename*=UTF-8''d%C3%A9lib%20%22n%C2%B012%22.pdf");
}

BOOST_AUTO_TEST_SUITE_END()
