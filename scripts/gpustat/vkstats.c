/*
 * vkstats: compile a SPIR-V compute shader into a Vulkan compute pipeline on
 * the first physical device the loader offers (meant for RADV's null device,
 * RADV_FORCE_FAMILY=navi31 etc.) and print the driver's pipeline-executable
 * statistics (VK_KHR_pipeline_executable_properties).
 *
 * usage: vkstats FILE.spv [ENTRY [REQUIRED_SUBGROUP_SIZE]]   (ENTRY defaults to "main"; 0 = driver's choice)
 *        vkstats --probe   (prints the "#device" line and exits: is the device there?)
 * env: VKSTATS_BINDINGS (see below), VKSTATS_IR=FILE (also write NIR / ACO IR / assembly there)
 * Output: "key\tvalue\tdescription" lines, one per statistic, preceded by
 * "#executable\tNAME\tDESCRIPTION\tSUBGROUP_SIZE" and "#device\t..." lines.
 */
#include <vulkan/vulkan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

/* Debian bookworm's Vulkan headers (1.3.239) predate VK_KHR_shader_maximal_reconvergence. */
#ifndef VK_KHR_shader_maximal_reconvergence
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR ((VkStructureType)1000434000)
typedef struct VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR {
  VkStructureType sType; void *pNext; VkBool32 shaderMaximalReconvergence;
} VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR;
#endif

#define CK(x) do { VkResult r_ = (x); if (r_ != VK_SUCCESS) { \
  fprintf(stderr, "vkstats: %s failed: %d\n", #x, (int)r_); exit(2); } } while (0)

static int has_ext(VkExtensionProperties *e, uint32_t n, const char *name) {
  for (uint32_t i = 0; i < n; i++) if (!strcmp(e[i].extensionName, name)) return 1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: vkstats FILE.spv [ENTRY] [REQUIRED_SUBGROUP_SIZE] | vkstats --probe\n"); return 1; }
  int probe = !strcmp(argv[1], "--probe");
  const char *entry = argc > 2 ? argv[2] : "main";
  uint32_t req_sg = argc > 3 ? (uint32_t)atoi(argv[3]) : 0;

  long sz = 0;
  uint32_t *code = NULL;
  if (!probe) {
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END); sz = ftell(f); fseek(f, 0, SEEK_SET);
    code = malloc(sz);
    if (fread(code, 1, sz, f) != (size_t)sz) { fprintf(stderr, "short read\n"); return 1; }
    fclose(f);
  }

  VkApplicationInfo app = { VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "vkstats", 1, NULL, 0, VK_API_VERSION_1_3 };
  VkInstanceCreateInfo ici = { VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, 0, &app, 0, NULL, 0, NULL };
  VkInstance inst; CK(vkCreateInstance(&ici, NULL, &inst));

  uint32_t npd = 0; CK(vkEnumeratePhysicalDevices(inst, &npd, NULL));
  if (!npd) { fprintf(stderr, "vkstats: no Vulkan physical device\n"); return 2; }
  VkPhysicalDevice *pds = calloc(npd, sizeof *pds);
  CK(vkEnumeratePhysicalDevices(inst, &npd, pds));
  VkPhysicalDevice pd = pds[0];

  VkPhysicalDeviceDriverProperties drv = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
  VkPhysicalDeviceSubgroupSizeControlProperties sgp = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES, &drv };
  VkPhysicalDeviceProperties2 props = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &sgp };
  vkGetPhysicalDeviceProperties2(pd, &props);
  printf("#device\t%s\t%s %s\tsubgroup %u-%u\n", props.properties.deviceName, drv.driverName,
         drv.driverInfo, sgp.minSubgroupSize, sgp.maxSubgroupSize);
  if (probe) { vkDestroyInstance(inst, NULL); return 0; }

  uint32_t next = 0; CK(vkEnumerateDeviceExtensionProperties(pd, NULL, &next, NULL));
  VkExtensionProperties *exts = calloc(next, sizeof *exts);
  CK(vkEnumerateDeviceExtensionProperties(pd, NULL, &next, exts));
  const char *want[] = {
    "VK_KHR_pipeline_executable_properties",
    "VK_KHR_shader_maximal_reconvergence",
    "VK_KHR_shader_subgroup_uniform_control_flow",
    "VK_KHR_shader_integer_dot_product",
    "VK_KHR_cooperative_matrix",
    "VK_KHR_shader_subgroup_extended_types",
    "VK_EXT_subgroup_size_control",
    "VK_KHR_zero_initialize_workgroup_memory",
    "VK_EXT_robustness2",
    "VK_KHR_shader_float16_int8",
    "VK_KHR_16bit_storage",
    "VK_KHR_vulkan_memory_model",
    "VK_EXT_shader_demote_to_helper_invocation",
  };
  const char *en[32]; uint32_t nen = 0;
  for (size_t i = 0; i < sizeof want / sizeof *want; i++)
    if (has_ext(exts, next, want[i])) en[nen++] = want[i];
  if (!has_ext(exts, next, "VK_KHR_pipeline_executable_properties")) {
    fprintf(stderr, "vkstats: device lacks VK_KHR_pipeline_executable_properties\n"); return 2;
  }

  /* Query every core 1.1/1.2/1.3 feature plus the extension features the Tint
   * SPIR-V may rely on, and enable whatever the device supports. */
  VkPhysicalDeviceShaderMaximalReconvergenceFeaturesKHR mr = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_MAXIMAL_RECONVERGENCE_FEATURES_KHR };
  VkPhysicalDeviceShaderSubgroupUniformControlFlowFeaturesKHR ucf = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SUBGROUP_UNIFORM_CONTROL_FLOW_FEATURES_KHR, &mr };
  VkPhysicalDeviceRobustness2FeaturesEXT rb2 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ROBUSTNESS_2_FEATURES_EXT, &ucf };
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pef = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR, &rb2 };
  VkPhysicalDeviceVulkan13Features f13 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES, &pef };
  VkPhysicalDeviceVulkan12Features f12 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, &f13 };
  VkPhysicalDeviceVulkan11Features f11 = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12 };
  VkPhysicalDeviceFeatures2 feats = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11 };
  /* keep only chain members whose extension we enable */
  if (!has_ext(exts, next, "VK_KHR_shader_maximal_reconvergence")) ucf.pNext = NULL;
  if (!has_ext(exts, next, "VK_KHR_shader_subgroup_uniform_control_flow")) rb2.pNext = ucf.pNext;
  if (!has_ext(exts, next, "VK_EXT_robustness2")) pef.pNext = rb2.pNext;
  vkGetPhysicalDeviceFeatures2(pd, &feats);
  if (!pef.pipelineExecutableInfo) { fprintf(stderr, "vkstats: pipelineExecutableInfo unsupported\n"); return 2; }
  /* Dawn does not enable robustBufferAccess2-style robustness unless its toggle
   * says so; keep the driver-side robustness features as reported (on). */

  uint32_t nq = 0; vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
  VkQueueFamilyProperties *qf = calloc(nq, sizeof *qf);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf);
  uint32_t qfi = 0;
  for (uint32_t i = 0; i < nq; i++) if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) { qfi = i; break; }
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci = { VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, qfi, 1, &prio };
  VkDeviceCreateInfo dci = { VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &feats, 0, 1, &qci, 0, NULL, nen, en, NULL };
  VkDevice dev; CK(vkCreateDevice(pd, &dci, NULL, &dev));

  PFN_vkGetPipelineExecutablePropertiesKHR getExecs =
    (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutablePropertiesKHR");
  PFN_vkGetPipelineExecutableStatisticsKHR getStats =
    (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableStatisticsKHR");

  VkShaderModuleCreateInfo smci = { VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, (size_t)sz, code };
  VkShaderModule sm; CK(vkCreateShaderModule(dev, &smci, NULL, &sm));

  /* Pipeline layout: RADV lowers descriptor access from the set layout, so it must cover every
   * binding the shader uses. gpustat passes them, read from the SPIR-V decorations, as
   * VKSTATS_BINDINGS="set:binding:type,..." (type s = storage buffer, u = uniform buffer). */
  const char *bspec = getenv("VKSTATS_BINDINGS");
  VkDescriptorSetLayoutBinding b[4][64]; uint32_t nb[4] = {0};
  if (bspec && *bspec) {
    char *s = strdup(bspec), *tok, *save;
    for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      unsigned set, bind; char ty = 's';
      if (sscanf(tok, "%u:%u:%c", &set, &bind, &ty) < 2 || set > 3 || nb[set] >= 64) continue;
      VkDescriptorSetLayoutBinding *x = &b[set][nb[set]++];
      memset(x, 0, sizeof *x);
      x->binding = bind;
      x->descriptorType = ty == 'u' ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      x->descriptorCount = 1;
      x->stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
    }
  }
  uint32_t nsets = 0;
  for (int i = 0; i < 4; i++) if (nb[i]) nsets = i + 1;
  VkDescriptorSetLayout dsl[4];
  for (uint32_t i = 0; i < nsets; i++) {
    VkDescriptorSetLayoutCreateInfo dlci = { VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, 0, nb[i], b[i] };
    CK(vkCreateDescriptorSetLayout(dev, &dlci, NULL, &dsl[i]));
  }
  VkPipelineLayoutCreateInfo plci = { VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, nsets, dsl, 0, NULL };
  VkPipelineLayout pl; CK(vkCreatePipelineLayout(dev, &plci, NULL, &pl));

  VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rsg = { VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO, NULL, req_sg };
  VkPipelineShaderStageCreateInfo stage = { VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, req_sg ? &rsg : NULL, 0,
    VK_SHADER_STAGE_COMPUTE_BIT, sm, entry, NULL };
  const char *ir_path = getenv("VKSTATS_IR"); /* write the driver's IR / disassembly here */
  VkComputePipelineCreateInfo cpci = { VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, NULL,
    VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR |
      (ir_path && *ir_path ? VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR : 0),
    stage, pl, VK_NULL_HANDLE, -1 };
  VkPipeline pipe; CK(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &cpci, NULL, &pipe));

  VkPipelineInfoKHR pinfo = { VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipe };
  uint32_t nexe = 0; CK(getExecs(dev, &pinfo, &nexe, NULL));
  VkPipelineExecutablePropertiesKHR *ep = calloc(nexe, sizeof *ep);
  for (uint32_t i = 0; i < nexe; i++) ep[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
  CK(getExecs(dev, &pinfo, &nexe, ep));
  for (uint32_t i = 0; i < nexe; i++) {
    printf("#executable\t%s\t%s\t%u\n", ep[i].name, ep[i].description, ep[i].subgroupSize);
    VkPipelineExecutableInfoKHR ei = { VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipe, i };
    uint32_t ns = 0; CK(getStats(dev, &ei, &ns, NULL));
    VkPipelineExecutableStatisticKHR *st = calloc(ns, sizeof *st);
    for (uint32_t j = 0; j < ns; j++) st[j].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
    CK(getStats(dev, &ei, &ns, st));
    for (uint32_t j = 0; j < ns; j++) {
      printf("%s\t", st[j].name);
      switch (st[j].format) {
      case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: printf("%s", st[j].value.b32 ? "true" : "false"); break;
      case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: printf("%" PRId64, st[j].value.i64); break;
      case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: printf("%" PRIu64, st[j].value.u64); break;
      case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: printf("%g", st[j].value.f64); break;
      default: printf("?");
      }
      printf("\t%s\n", st[j].description);
    }
    free(st);
    if (ir_path && *ir_path) {
      PFN_vkGetPipelineExecutableInternalRepresentationsKHR getIR =
        (PFN_vkGetPipelineExecutableInternalRepresentationsKHR)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableInternalRepresentationsKHR");
      uint32_t nir = 0; CK(getIR(dev, &ei, &nir, NULL));
      VkPipelineExecutableInternalRepresentationKHR *irs = calloc(nir, sizeof *irs);
      for (uint32_t j = 0; j < nir; j++) irs[j].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
      CK(getIR(dev, &ei, &nir, irs));
      for (uint32_t j = 0; j < nir; j++) irs[j].pData = calloc(1, irs[j].dataSize + 1);
      VkResult r = getIR(dev, &ei, &nir, irs);
      if (r != VK_SUCCESS && r != VK_INCOMPLETE) { fprintf(stderr, "vkstats: IR query failed: %d\n", (int)r); exit(2); }
      FILE *o = fopen(ir_path, "w");
      if (!o) { perror(ir_path); exit(2); }
      for (uint32_t j = 0; j < nir; j++) {
        fprintf(o, "==== %s: %s ====\n", irs[j].name, irs[j].description);
        if (irs[j].isText) fputs((const char *)irs[j].pData, o); else fprintf(o, "(binary, %zu bytes)\n", irs[j].dataSize);
        fputs("\n", o);
        free(irs[j].pData);
      }
      fclose(o);
      free(irs);
    }
  }
  vkDestroyPipeline(dev, pipe, NULL);
  vkDestroyPipelineLayout(dev, pl, NULL);
  for (uint32_t i = 0; i < nsets; i++) vkDestroyDescriptorSetLayout(dev, dsl[i], NULL);
  vkDestroyShaderModule(dev, sm, NULL);
  vkDestroyDevice(dev, NULL);
  vkDestroyInstance(inst, NULL);
  return 0;
}
