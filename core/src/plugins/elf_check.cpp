// Reads the ELF header and program headers and checks every offset against the file size.
#include "plugins/elf_check.hpp"

#include <elf.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace passerelle {

std::optional<std::string> check_elf(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return "cannot read: " + ec.message();
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (size < sizeof eh || !in.read(reinterpret_cast<char*>(&eh), sizeof eh))
    return "not a shared library (file too short)";
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return "not a shared library (no ELF magic)";
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return "not a 64-bit little-endian ELF file";
#if defined(__x86_64__)
  if (eh.e_machine != EM_X86_64)
    return "built for another processor (e_machine " + std::to_string(eh.e_machine) + ")";
#elif defined(__aarch64__)
  if (eh.e_machine != EM_AARCH64)
    return "built for another processor (e_machine " + std::to_string(eh.e_machine) + ")";
#endif
  if (eh.e_type != ET_DYN)
    return "not a shared library (ELF type " + std::to_string(eh.e_type) + ")";
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0) return "malformed program headers";
  const std::uint64_t ph_end = eh.e_phoff + std::uint64_t{eh.e_phnum} * eh.e_phentsize;
  if (ph_end > size)
    return "truncated (program headers end at " + std::to_string(ph_end) + ", file has " +
           std::to_string(size) + " bytes)";
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  in.seekg(static_cast<std::streamoff>(eh.e_phoff));
  if (!in.read(reinterpret_cast<char*>(ph.data()),
               static_cast<std::streamsize>(ph.size() * sizeof(Elf64_Phdr))))
    return "truncated program headers";
  for (const auto& p : ph) {
    if (p.p_type != PT_LOAD && p.p_type != PT_DYNAMIC) continue;
    if (p.p_offset + p.p_filesz > size)
      return "truncated (a segment ends at " + std::to_string(p.p_offset + p.p_filesz) +
             ", file has " + std::to_string(size) + " bytes)";
  }
  if (eh.e_shoff != 0) {
    const std::uint64_t sh_end = eh.e_shoff + std::uint64_t{eh.e_shnum} * eh.e_shentsize;
    if (sh_end > size)
      return "truncated (section headers end at " + std::to_string(sh_end) + ", file has " +
             std::to_string(size) + " bytes)";
  }
  return std::nullopt;
}

}  // namespace passerelle
