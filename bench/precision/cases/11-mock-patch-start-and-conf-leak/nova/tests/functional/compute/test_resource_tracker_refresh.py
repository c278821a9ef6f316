# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from unittest import mock

import fixtures

import nova.conf
from nova.tests.functional import integrated_helpers

CONF = nova.conf.CONF


class ResourceTrackerRefreshTest(integrated_helpers._IntegratedTestBase):

    def setUp(self):
        super().setUp()
        CONF.update_resources_interval = 1
        self.mock_refresh = mock.patch(
            'nova.compute.resource_tracker.ResourceTracker.'
            '_refresh_associations').start()
        self.useFixture(fixtures.MockPatch(
            'nova.scheduler.client.report.SchedulerReportClient.'
            '_refresh_and_get_inventory'))

    def test_periodic_refreshes_once(self):
        self._create_server(networks='none')
        self._run_periodics()
        self.assertEqual(1, self.mock_refresh.call_count)
