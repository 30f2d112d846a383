//! Identifiers of NUT's conversion functions (`fun`/`nuf` of lookup tables).
//!
//! One variant per C function name, CamelCased. The behaviour lives in
//! `conv.rs`; tables refer to these ids only.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `date_conversion_fun` (hid->nut)
    DateConversionFun,
    /// `date_conversion_reverse` (nut->hid)
    DateConversionReverse,
    /// `hex_conversion_fun` (hid->nut)
    HexConversionFun,
    /// `stringid_conversion_fun` (hid->nut)
    StringidConversionFun,
    /// `divide_by_10_conversion_fun` (hid->nut)
    DivideBy10ConversionFun,
    /// `divide_by_100_conversion_fun` (hid->nut)
    DivideBy100ConversionFun,
    /// `kelvin_celsius_conversion_fun` (hid->nut)
    KelvinCelsiusConversionFun,
    /// `apc_date_conversion_fun` (hid->nut)
    ApcDateConversionFun,
    /// `apc_date_conversion_reverse` (nut->hid)
    ApcDateConversionReverse,
    /// `liebert_online_fun` (hid->nut)
    LiebertOnlineFun,
    /// `liebert_discharging_fun` (hid->nut)
    LiebertDischargingFun,
    /// `liebert_charging_fun` (hid->nut)
    LiebertChargingFun,
    /// `liebert_lowbatt_fun` (hid->nut)
    LiebertLowbattFun,
    /// `liebert_replacebatt_fun` (hid->nut)
    LiebertReplacebattFun,
    /// `liebert_shutdownimm_fun` (hid->nut)
    LiebertShutdownimmFun,
    /// `liebert_config_voltage_fun` (hid->nut)
    LiebertConfigVoltageFun,
    /// `liebert_line_voltage_fun` (hid->nut)
    LiebertLineVoltageFun,
    /// `belkin_firmware_conversion_fun` (hid->nut)
    BelkinFirmwareConversionFun,
    /// `belkin_upstype_conversion_fun` (hid->nut)
    BelkinUpstypeConversionFun,
    /// `belkin_sensitivity_conversion_fun` (hid->nut)
    BelkinSensitivityConversionFun,
    /// `belkin_overload_conversion_fun` (hid->nut)
    BelkinOverloadConversionFun,
    /// `belkin_overheat_conversion_fun` (hid->nut)
    BelkinOverheatConversionFun,
    /// `belkin_commfault_conversion_fun` (hid->nut)
    BelkinCommfaultConversionFun,
    /// `belkin_awaitingpower_conversion_fun` (hid->nut)
    BelkinAwaitingpowerConversionFun,
    /// `belkin_online_conversion_fun` (hid->nut)
    BelkinOnlineConversionFun,
    /// `belkin_lowbatt_conversion_fun` (hid->nut)
    BelkinLowbattConversionFun,
    /// `belkin_depleted_conversion_fun` (hid->nut)
    BelkinDepletedConversionFun,
    /// `belkin_replacebatt_conversion_fun` (hid->nut)
    BelkinReplacebattConversionFun,
    /// `cps_input_freq_fun` (hid->nut)
    CpsInputFreqFun,
    /// `cps_output_freq_fun` (hid->nut)
    CpsOutputFreqFun,
    /// `cps_battvolt_fun` (hid->nut)
    CpsBattvoltFun,
    /// `cps_battcharge_fun` (hid->nut)
    CpsBattchargeFun,
    /// `cps_battstatus_fun` (hid->nut)
    CpsBattstatusFun,
    /// `delta_ups_type_fun` (hid->nut)
    DeltaUpsTypeFun,
    /// `ecoflow_battery_runtime_conversion` (hid->nut)
    EcoflowBatteryRuntimeConversion,
    /// `ever_format_hardware_fun` (hid->nut)
    EverFormatHardwareFun,
    /// `ever_format_version_fun` (hid->nut)
    EverFormatVersionFun,
    /// `ever_mac_address_fun` (hid->nut)
    EverMacAddressFun,
    /// `ever_ip_address_fun` (hid->nut)
    EverIpAddressFun,
    /// `ever_packets_fun` (hid->nut)
    EverPacketsFun,
    /// `ever_workmode_fun` (hid->nut)
    EverWorkmodeFun,
    /// `ever_messages_fun` (hid->nut)
    EverMessagesFun,
    /// `ever_alarms_fun` (hid->nut)
    EverAlarmsFun,
    /// `ever_on_off_fun` (hid->nut)
    EverOnOffFun,
    /// `legrand_times10` (hid->nut)
    LegrandTimes10,
    /// `legrand_times100k` (hid->nut)
    LegrandTimes100k,
    /// `legrand_times1M` (hid->nut)
    LegrandTimes1M,
    /// `legrand_times10M` (hid->nut)
    LegrandTimes10M,
    /// `eaton_abm_enabled_fun` (hid->nut)
    EatonAbmEnabledFun,
    /// `eaton_abm_path_mode_fun` (hid->nut)
    EatonAbmPathModeFun,
    /// `eaton_abm_path_status_fun` (hid->nut)
    EatonAbmPathStatusFun,
    /// `eaton_abm_status_fun` (hid->nut)
    EatonAbmStatusFun,
    /// `eaton_abm_chrg_dischrg_fun` (hid->nut)
    EatonAbmChrgDischrgFun,
    /// `eaton_abm_check_dischrg_fun` (hid->nut)
    EatonAbmCheckDischrgFun,
    /// `eaton_abm_check_chrg_fun` (hid->nut)
    EatonAbmCheckChrgFun,
    /// `mge_date_conversion_fun` (hid->nut)
    MgeDateConversionFun,
    /// `mge_date_conversion_nuf` (nut->hid)
    MgeDateConversionNuf,
    /// `mge_time_conversion_fun` (hid->nut)
    MgeTimeConversionFun,
    /// `mge_time_conversion_nuf` (nut->hid)
    MgeTimeConversionNuf,
    /// `mge_battery_voltage_nominal_fun` (hid->nut)
    MgeBatteryVoltageNominalFun,
    /// `mge_battery_voltage_fun` (hid->nut)
    MgeBatteryVoltageFun,
    /// `mge_powerfactor_conversion_fun` (hid->nut)
    MgePowerfactorConversionFun,
    /// `mge_battery_capacity_fun` (hid->nut)
    MgeBatteryCapacityFun,
    /// `eaton_check_pegasus_fun` (hid->nut)
    EatonCheckPegasusFun,
    /// `pegasus_yes_no_info_fun` (hid->nut)
    PegasusYesNoInfoFun,
    /// `pegasus_yes_no_info_nuf` (nut->hid)
    PegasusYesNoInfoNuf,
    /// `eaton_input_buzzwordmode_report` (hid->nut)
    EatonInputBuzzwordmodeReport,
    /// `eaton_input_buzzwordmode_setvar_nuf` (nut->hid)
    EatonInputBuzzwordmodeSetvarNuf,
    /// `eaton_input_bypass_check_range` (hid->nut)
    EatonInputBypassCheckRange,
    /// `eaton_input_eco_mode_auto_on_off_fun` (hid->nut)
    EatonInputEcoModeAutoOnOffFun,
    /// `eaton_input_eco_mode_auto_on_off_nuf` (nut->hid)
    EatonInputEcoModeAutoOnOffNuf,
    /// `eaton_check_country_fun` (hid->nut)
    EatonCheckCountryFun,
    /// `eaton_compute_realpower_fun` (hid->nut)
    EatonComputeRealpowerFun,
    /// `nominal_output_voltage_fun` (hid->nut)
    NominalOutputVoltageFun,
    /// `eaton_converter_online_fun` (hid->nut)
    EatonConverterOnlineFun,
    /// `openups_charging_fun` (hid->nut)
    OpenupsChargingFun,
    /// `openups_discharging_fun` (hid->nut)
    OpenupsDischargingFun,
    /// `openups_online_fun` (hid->nut)
    OpenupsOnlineFun,
    /// `openups_off_fun` (hid->nut)
    OpenupsOffFun,
    /// `openups_scale_vin_fun` (hid->nut)
    OpenupsScaleVinFun,
    /// `openups_scale_vout_fun` (hid->nut)
    OpenupsScaleVoutFun,
    /// `openups_scale_ccharge_fun` (hid->nut)
    OpenupsScaleCchargeFun,
    /// `openups_scale_cdischarge_fun` (hid->nut)
    OpenupsScaleCdischargeFun,
    /// `openups_temperature_fun` (hid->nut)
    OpenupsTemperatureFun,
    /// `powercom_startup_fun` (hid->nut)
    PowercomStartupFun,
    /// `powercom_startup_nuf` (nut->hid)
    PowercomStartupNuf,
    /// `powercom_shutdown_fun` (hid->nut)
    PowercomShutdownFun,
    /// `powercom_shutdown_nuf` (nut->hid)
    PowercomShutdownNuf,
    /// `powercom_stayoff_nuf` (nut->hid)
    PowercomStayoffNuf,
    /// `powercom_voltage_conversion_fun` (hid->nut)
    PowercomVoltageConversionFun,
    /// `powercom_upsfail_conversion_fun` (hid->nut)
    PowercomUpsfailConversionFun,
    /// `powercom_replacebatt_conversion_fun` (hid->nut)
    PowercomReplacebattConversionFun,
    /// `powercom_test_conversion_fun` (hid->nut)
    PowercomTestConversionFun,
    /// `powercom_shutdownimm_conversion_fun` (hid->nut)
    PowercomShutdownimmConversionFun,
    /// `powercom_online_conversion_fun` (hid->nut)
    PowercomOnlineConversionFun,
    /// `powercom_lowbatt_conversion_fun` (hid->nut)
    PowercomLowbattConversionFun,
    /// `powercom_trim_conversion_fun` (hid->nut)
    PowercomTrimConversionFun,
    /// `powercom_boost_conversion_fun` (hid->nut)
    PowercomBoostConversionFun,
    /// `powercom_overload_conversion_fun` (hid->nut)
    PowercomOverloadConversionFun,
    /// `powercom_hack_voltage` (hid->nut)
    PowercomHackVoltage,
    /// `tripplite_chemistry_fun` (hid->nut)
    TrippliteChemistryFun,
    /// `tripplite_battvolt_fun` (hid->nut)
    TrippliteBattvoltFun,
    /// `tripplite_iovolt_fun` (hid->nut)
    TrippliteIovoltFun,
    /// `tripplite_iofreq_fun` (hid->nut)
    TrippliteIofreqFun,
    /// `tripplite_ioamp_fun` (hid->nut)
    TrippliteIoampFun,
}

impl Func {
    /// The C function name this id stands for.
    pub const fn c_name(self) -> &'static str {
        match self {
            Func::DateConversionFun => "date_conversion_fun",
            Func::DateConversionReverse => "date_conversion_reverse",
            Func::HexConversionFun => "hex_conversion_fun",
            Func::StringidConversionFun => "stringid_conversion_fun",
            Func::DivideBy10ConversionFun => "divide_by_10_conversion_fun",
            Func::DivideBy100ConversionFun => "divide_by_100_conversion_fun",
            Func::KelvinCelsiusConversionFun => "kelvin_celsius_conversion_fun",
            Func::ApcDateConversionFun => "apc_date_conversion_fun",
            Func::ApcDateConversionReverse => "apc_date_conversion_reverse",
            Func::LiebertOnlineFun => "liebert_online_fun",
            Func::LiebertDischargingFun => "liebert_discharging_fun",
            Func::LiebertChargingFun => "liebert_charging_fun",
            Func::LiebertLowbattFun => "liebert_lowbatt_fun",
            Func::LiebertReplacebattFun => "liebert_replacebatt_fun",
            Func::LiebertShutdownimmFun => "liebert_shutdownimm_fun",
            Func::LiebertConfigVoltageFun => "liebert_config_voltage_fun",
            Func::LiebertLineVoltageFun => "liebert_line_voltage_fun",
            Func::BelkinFirmwareConversionFun => "belkin_firmware_conversion_fun",
            Func::BelkinUpstypeConversionFun => "belkin_upstype_conversion_fun",
            Func::BelkinSensitivityConversionFun => "belkin_sensitivity_conversion_fun",
            Func::BelkinOverloadConversionFun => "belkin_overload_conversion_fun",
            Func::BelkinOverheatConversionFun => "belkin_overheat_conversion_fun",
            Func::BelkinCommfaultConversionFun => "belkin_commfault_conversion_fun",
            Func::BelkinAwaitingpowerConversionFun => "belkin_awaitingpower_conversion_fun",
            Func::BelkinOnlineConversionFun => "belkin_online_conversion_fun",
            Func::BelkinLowbattConversionFun => "belkin_lowbatt_conversion_fun",
            Func::BelkinDepletedConversionFun => "belkin_depleted_conversion_fun",
            Func::BelkinReplacebattConversionFun => "belkin_replacebatt_conversion_fun",
            Func::CpsInputFreqFun => "cps_input_freq_fun",
            Func::CpsOutputFreqFun => "cps_output_freq_fun",
            Func::CpsBattvoltFun => "cps_battvolt_fun",
            Func::CpsBattchargeFun => "cps_battcharge_fun",
            Func::CpsBattstatusFun => "cps_battstatus_fun",
            Func::DeltaUpsTypeFun => "delta_ups_type_fun",
            Func::EcoflowBatteryRuntimeConversion => "ecoflow_battery_runtime_conversion",
            Func::EverFormatHardwareFun => "ever_format_hardware_fun",
            Func::EverFormatVersionFun => "ever_format_version_fun",
            Func::EverMacAddressFun => "ever_mac_address_fun",
            Func::EverIpAddressFun => "ever_ip_address_fun",
            Func::EverPacketsFun => "ever_packets_fun",
            Func::EverWorkmodeFun => "ever_workmode_fun",
            Func::EverMessagesFun => "ever_messages_fun",
            Func::EverAlarmsFun => "ever_alarms_fun",
            Func::EverOnOffFun => "ever_on_off_fun",
            Func::LegrandTimes10 => "legrand_times10",
            Func::LegrandTimes100k => "legrand_times100k",
            Func::LegrandTimes1M => "legrand_times1M",
            Func::LegrandTimes10M => "legrand_times10M",
            Func::EatonAbmEnabledFun => "eaton_abm_enabled_fun",
            Func::EatonAbmPathModeFun => "eaton_abm_path_mode_fun",
            Func::EatonAbmPathStatusFun => "eaton_abm_path_status_fun",
            Func::EatonAbmStatusFun => "eaton_abm_status_fun",
            Func::EatonAbmChrgDischrgFun => "eaton_abm_chrg_dischrg_fun",
            Func::EatonAbmCheckDischrgFun => "eaton_abm_check_dischrg_fun",
            Func::EatonAbmCheckChrgFun => "eaton_abm_check_chrg_fun",
            Func::MgeDateConversionFun => "mge_date_conversion_fun",
            Func::MgeDateConversionNuf => "mge_date_conversion_nuf",
            Func::MgeTimeConversionFun => "mge_time_conversion_fun",
            Func::MgeTimeConversionNuf => "mge_time_conversion_nuf",
            Func::MgeBatteryVoltageNominalFun => "mge_battery_voltage_nominal_fun",
            Func::MgeBatteryVoltageFun => "mge_battery_voltage_fun",
            Func::MgePowerfactorConversionFun => "mge_powerfactor_conversion_fun",
            Func::MgeBatteryCapacityFun => "mge_battery_capacity_fun",
            Func::EatonCheckPegasusFun => "eaton_check_pegasus_fun",
            Func::PegasusYesNoInfoFun => "pegasus_yes_no_info_fun",
            Func::PegasusYesNoInfoNuf => "pegasus_yes_no_info_nuf",
            Func::EatonInputBuzzwordmodeReport => "eaton_input_buzzwordmode_report",
            Func::EatonInputBuzzwordmodeSetvarNuf => "eaton_input_buzzwordmode_setvar_nuf",
            Func::EatonInputBypassCheckRange => "eaton_input_bypass_check_range",
            Func::EatonInputEcoModeAutoOnOffFun => "eaton_input_eco_mode_auto_on_off_fun",
            Func::EatonInputEcoModeAutoOnOffNuf => "eaton_input_eco_mode_auto_on_off_nuf",
            Func::EatonCheckCountryFun => "eaton_check_country_fun",
            Func::EatonComputeRealpowerFun => "eaton_compute_realpower_fun",
            Func::NominalOutputVoltageFun => "nominal_output_voltage_fun",
            Func::EatonConverterOnlineFun => "eaton_converter_online_fun",
            Func::OpenupsChargingFun => "openups_charging_fun",
            Func::OpenupsDischargingFun => "openups_discharging_fun",
            Func::OpenupsOnlineFun => "openups_online_fun",
            Func::OpenupsOffFun => "openups_off_fun",
            Func::OpenupsScaleVinFun => "openups_scale_vin_fun",
            Func::OpenupsScaleVoutFun => "openups_scale_vout_fun",
            Func::OpenupsScaleCchargeFun => "openups_scale_ccharge_fun",
            Func::OpenupsScaleCdischargeFun => "openups_scale_cdischarge_fun",
            Func::OpenupsTemperatureFun => "openups_temperature_fun",
            Func::PowercomStartupFun => "powercom_startup_fun",
            Func::PowercomStartupNuf => "powercom_startup_nuf",
            Func::PowercomShutdownFun => "powercom_shutdown_fun",
            Func::PowercomShutdownNuf => "powercom_shutdown_nuf",
            Func::PowercomStayoffNuf => "powercom_stayoff_nuf",
            Func::PowercomVoltageConversionFun => "powercom_voltage_conversion_fun",
            Func::PowercomUpsfailConversionFun => "powercom_upsfail_conversion_fun",
            Func::PowercomReplacebattConversionFun => "powercom_replacebatt_conversion_fun",
            Func::PowercomTestConversionFun => "powercom_test_conversion_fun",
            Func::PowercomShutdownimmConversionFun => "powercom_shutdownimm_conversion_fun",
            Func::PowercomOnlineConversionFun => "powercom_online_conversion_fun",
            Func::PowercomLowbattConversionFun => "powercom_lowbatt_conversion_fun",
            Func::PowercomTrimConversionFun => "powercom_trim_conversion_fun",
            Func::PowercomBoostConversionFun => "powercom_boost_conversion_fun",
            Func::PowercomOverloadConversionFun => "powercom_overload_conversion_fun",
            Func::PowercomHackVoltage => "powercom_hack_voltage",
            Func::TrippliteChemistryFun => "tripplite_chemistry_fun",
            Func::TrippliteBattvoltFun => "tripplite_battvolt_fun",
            Func::TrippliteIovoltFun => "tripplite_iovolt_fun",
            Func::TrippliteIofreqFun => "tripplite_iofreq_fun",
            Func::TrippliteIoampFun => "tripplite_ioamp_fun",
        }
    }
}
